import { ErrorCode, FrameError, RpcError } from '@skein/core';

/*
 * A goodbye makes every call still unanswered fail Closed, `retry: 'safe'` (never ran), which a
 * pool sends elsewhere, idempotent or not. Only a goodbye the server keeps to may say so: one it
 * never agreed in the hello, or one followed by anything at all (it is the last frame), comes
 * from a broken or hostile server, and its calls may have run (IO, as any lost connection).
 */

/** A goodbye from a server whose hello answer did not agree kind 25: an extension frame not agreed, as an unknown flag. */
export function goodbyeNotAgreed(flag: number): FrameError {
  return new FrameError(`a goodbye (flag ${flag}) from a server whose hello did not agree goodbyes: its word that the calls unanswered never ran does not hold`);
}

/** A frame after the goodbye, which is the server's last. */
export function frameAfterGoodbye(flag: number, seq: number): FrameError {
  return new FrameError(`a frame (flag ${flag}, seq ${seq}) after the server's goodbye, its last frame: its word that the calls unanswered never ran does not hold`);
}

/** The connection ended on bytes that broke the protocol (that did not frame, or were over a limit): after a goodbye, they void it. */
export function brokeProtocol(err: Error | undefined): boolean {
  return err instanceof FrameError || RpcError.is(err, ErrorCode.FrameTooLarge);
}
