/**
 * How a Skein server's refusal of a stream for room on its connection alone reads: Overloaded
 * with this detail (`rpc_overloaded:no room for another stream on this connection (stream
 * budget)`), its stream unrun. A client takes only this as "this connection is full, another may
 * have room" (`refusedForRoom`): a bare Overloaded is anyone's (a filter shedding load, a
 * handler's own refusal, a downstream's passed on) and counts as any refusal does. A detailed
 * Overloaded reads as "may have run" (`retryFromWire`); this one alone reads as unrun.
 */
export const STREAM_ROOM = 'no room for another stream on this connection';

/** Which cap of its connection refused the stream: its `streamBudgetBytes`, or its cap on open streams. */
export type StreamRoomCap = 'stream budget' | 'open streams';

/** The detail of a refusal for room (`STREAM_ROOM`, the cap in parentheses). */
export function streamRoomDetail(cap: StreamRoomCap): string {
  return `${STREAM_ROOM} (${cap})`;
}

/** True when an Overloaded's detail (`message`) is a refusal for room on its connection alone. */
export function saysNoStreamRoom(detail: string): boolean {
  return detail.startsWith(`${STREAM_ROOM} (`);
}
