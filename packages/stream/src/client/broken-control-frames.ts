import { ErrorCode, FrameError, RpcError } from '@skein/core';

/*
 * A server's frames on seq 0 other than the hello's answer: its pings and its goodbye. Each is
 * an extension its hello agreed, with no body. A goodbye makes every call still unanswered fail
 * Closed, `retry: 'safe'` (never ran), which a pool sends elsewhere, idempotent or not: only a
 * goodbye the server keeps to may say so. One it never agreed in the hello, or one followed by
 * anything at all (it is the last frame), comes from a broken or hostile server, and its calls
 * may have run (IO, as any lost connection); one with a body the frame reader refuses
 * (wire/frame-specs.ts). A ping not agreed is not answered: the connection closes, as on an
 * unknown flag.
 */

/** A control frame from a server whose hello answer did not agree its kind: an extension frame not agreed, as an unknown flag. */
export function notAgreed(what: 'goodbye' | 'server ping', flag: number): FrameError {
  const why = what === 'goodbye' ? 'its word that the calls unanswered never ran does not hold' : 'an extension frame not agreed';
  return new FrameError(`a ${what} (flag ${flag}) from a server whose hello did not agree ${what}s: ${why}`);
}

/** A frame after the goodbye, which is the server's last. */
export function frameAfterGoodbye(flag: number, seq: number): FrameError {
  return new FrameError(`a frame (flag ${flag}, seq ${seq}) after the server's goodbye, its last frame: its word that the calls unanswered never ran does not hold`);
}

/** The connection ended on bytes that broke the protocol (that did not frame, or were over a limit): after a goodbye, they void it. */
export function brokeProtocol(err: Error | undefined): boolean {
  return err instanceof FrameError || RpcError.is(err, ErrorCode.FrameTooLarge);
}
