import { ErrorCode, RpcError } from '@skein/core';
import { frameCapWords } from '../wire/frame-cap-words.js';

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
