import { ErrorCode, FrameError, RpcError } from '@skein/core';

/**
 * WebSocket close codes this transport sends, so a peer (or a packet capture) can tell why a
 * connection ended. 1006 is never sent: it is what a side sees when the socket died without a
 * close frame (keepalive termination, uWebSockets.js rejecting an oversized message).
 */
export const CloseCode = {
  /** `close()` or `end()`. */
  Normal: 1000,
  /** A text message: Skein frames travel in binary messages only. */
  UnsupportedData: 1003,
  /** No close frame arrived (never sent, only observed). */
  Abnormal: 1006,
  /** The peer broke the WebSocket protocol itself (ws's answer to a malformed WebSocket frame). */
  ProtocolError: 1002,
  /** A message broke framing: it ended mid-frame or a header was rejected by the FrameSpec. */
  BadFrame: 1007,
  /** ws's answer to a message in too many fragments (over 16,384). */
  PolicyViolation: 1008,
  /** A message was over the receiver's size limit. */
  TooBig: 1009,
  /** The receiving side failed (a frame handler threw, an upgrade hook failed). */
  Internal: 1011,
  /** The peer kept sending while this side was paused and could not stop reading: over `maxHeldBytes`. */
  TryAgainLater: 1013,
} as const;

export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * The standard WebSocket API (browsers, Bun, Deno) only lets a page send 1000 or 3000-4999, so
 * that client sends our 10xx codes shifted into the private range: 1007 travels as 4007.
 */
export const STANDARD_API_OFFSET = 3000;

const NAMES: Record<number, string> = {
  1000: 'normal',
  1001: 'going away',
  1002: 'protocol error',
  1003: 'unsupported data',
  1005: 'no status',
  1006: 'abnormal closure',
  1007: 'bad frame',
  1008: 'policy violation',
  1009: 'message too big',
  1011: 'internal error',
  1013: 'try again later',
};

/** The close code that tells the peer why we are dropping it after `err`. */
export function closeCodeFor(err: unknown): CloseCode {
  if (RpcError.is(err, ErrorCode.FrameTooLarge)) return CloseCode.TooBig;
  if (RpcError.is(err, ErrorCode.Overloaded)) return CloseCode.TryAgainLater;
  if (err instanceof FrameError) return CloseCode.BadFrame;
  return CloseCode.Internal;
}

/** What the FrameHandlers hear when the socket closed with `code`: nothing for a clean close. */
export function errorForClose(code: number, reason: string, cause?: Error): Error | undefined {
  const c = code >= 4000 && code < 4100 ? code - STANDARD_API_OFFSET : code;
  if (!cause && (c === 1000 || c === 1001 || c === 1005)) return undefined;
  const why = reason || cause?.message || '';
  const message = `websocket closed (${c} ${NAMES[c] ?? 'unknown'})${why ? `: ${why}` : ''}`;
  return new RpcError(errorCodeForClose(c, why), message, { cause });
}

function errorCodeForClose(code: number, why: string): ErrorCode {
  // uWebSockets.js reports its own size limit as 1006 "Received too big message", not 1009.
  if (code === CloseCode.TooBig || /too big/i.test(why)) return ErrorCode.FrameTooLarge;
  // And its idle timeout (its keepalive) as 1006 "...inactivity...": the ws server's keepalive says Timeout.
  if (code === CloseCode.Abnormal && /inactivity/i.test(why)) return ErrorCode.Timeout;
  return ErrorCode.IO;
}

/** A close reason within the protocol's 123-byte limit (longer ones make `close` throw). */
export function closeReason(text: string): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= 123) return text;
  // Cut on a byte budget, then drop a trailing partial UTF-8 sequence.
  return new TextDecoder().decode(bytes.subarray(0, 120)).replace(/\uFFFD+$/, '') + '...';
}
