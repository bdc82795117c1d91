import { ErrorCode, RpcError } from '@skein/core';
import { frameCapWords } from '../wire/frame-cap-words.js';
import { REQUEST_HEADER_LENGTH } from '../wire/protocol.js';

/**
 * A request frame over the largest one the server's transport carries (kind 26's max_frame:
 * a WebSocket server's `maxWsMessageBytes`, a TCP server's `maxPendingFrameBytes`), though within
 * every limit the server declared: sent, the transport would close the connection (1009 over
 * WebSocket) and every call on it would read "may have run". Refused here, unsent, as a request
 * over the server's limits is, so another server (or a smaller request) may take it.
 */
export function overFrameLimit(remote: string, what: string, bytes: number, max: number): RpcError {
  return new RpcError(
    ErrorCode.FrameTooLarge,
    `${what} of ${bytes} bytes exceeds ${frameCapWords(`${remote}'s`, max, 'server')}: not sent`,
    { retry: 'safe' },
  );
}

/**
 * Request frames a client sends before its hello's answer is in, in bytes (each one alone over a
 * byte stream; over a transport that packs frames into one unit, a WebSocket message, all of them
 * together with what goes beside them: `preAnswerRoomFor`): no cap is known yet, and one over the
 * server's would cost the connection (1009 over WebSocket) with every call on it read "may have
 * run", none of them run. Calls past it wait for the answer, then go or are refused unsent as any
 * later call. The first message whole, hello included, fits the smallest caps in use
 * (uWebSockets.js's default message, 16 KiB), so that only calls made as a connection opens
 * wait, and those a round trip at most.
 */
export const PRE_ANSWER_BYTES = 16 * 1024;

/**
 * The room left of PRE_ANSWER_BYTES for calls before the answer. Where frames are packed into
 * one message (`packs`), the hello goes first in it (`hello`, its whole frame), and two pings may
 * go beside them, bare headers each: the one that asks for the answer once a call is held
 * (Keepalive.askVerdict, untracked, once a connection) and the tracked one of `ping()` or the
 * keepalive, one at a time, whose answer comes after the hello's. Room for one alone let a
 * `ping()` made right after calls that filled it take the message 32 bytes over 16 KiB (1009).
 * Nothing else goes before the answer: credentials go once it asks for them (ClientAuth.atConnect),
 * and a cancel only to a server that agreed cancels (a call never sent writes none).
 */
export function preAnswerRoomFor(hello: Uint8Array | undefined, packs: boolean): number {
  if (!packs) return PRE_ANSWER_BYTES;
  return PRE_ANSWER_BYTES - (hello?.length ?? 0) - 2 * REQUEST_HEADER_LENGTH;
}
