/**
 * How a Skein server's refusal of a stream for room on its connection alone reads: Overloaded
 * with this detail (`rpc_overloaded:no room for another stream on this connection (stream
 * budget)`), its stream unrun. A client takes only this as "this connection is full, another may
 * have room" (`refusedForRoom`): a bare Overloaded is anyone's (a filter shedding load, a
 * handler's own refusal, a downstream's passed on) and counts as any refusal does. A detailed
 * Overloaded reads as "may have run" (`retryFromWire`); this one alone reads as unrun, and only
 * as the answer to a stream's opening (`roomRefusal`, read in ClientStream), never to a call.
 * Only the server's own refusal path sends it (`roomRefusalResponseHalves`): any other detail
 * that says it travels marked as passed on (`unsignedDetail`), as a handler that passes on a
 * downstream's refusal may have done its work first.
 */
export const STREAM_ROOM = 'no room for another stream on this connection';

/** Which cap of its connection refused the stream: its `streamBudgetBytes`, or its cap on open streams. */
export type StreamRoomCap = 'stream budget' | 'open streams';

/** The detail of a refusal for room (`STREAM_ROOM`, the cap in parentheses). */
export function streamRoomDetail(cap: StreamRoomCap): string {
  return `${STREAM_ROOM} (${cap})`;
}

const ROOM_DETAILS: readonly string[] = [streamRoomDetail('stream budget'), streamRoomDetail('open streams')];

/**
 * True when an Overloaded's detail (`message`) is a refusal for room on its connection alone:
 * exactly one of the two `streamRoomDetail` strings, never a prefix (`… (stream budget) (after 2
 * attempts)` is someone's words about one).
 */
export function saysNoStreamRoom(detail: string): boolean {
  return ROOM_DETAILS.includes(detail);
}

/**
 * `detail` as anyone but the server's own refusal path may send it: one that speaks of no stream
 * room is marked as passed on, so that no handler's words (a downstream's refusal passed on by
 * `req.fail(err.code, err.message)`, a worker's forwarded error, a reverse call's answer) read as
 * the sign of a stream refused unrun.
 */
export function unsignedDetail(detail: string): string {
  return detail.startsWith(STREAM_ROOM) ? `passed on: ${detail}` : detail;
}
