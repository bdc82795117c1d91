import { ErrorCode, RpcError } from '@skein/core';
import { saysNoStreamRoom } from '../wire/stream-room.js';

/**
 * True when `stream` was refused unrun by a cap of its connection alone: Overloaded with the
 * detail a Skein server gives that refusal alone (`STREAM_ROOM`: its `streamBudgetBytes`, its cap
 * on open streams), read as safe to retry, before its server said anything of it (no item or
 * credit). Another connection, to the same server or another, may well have room: a pool opens
 * it there, and a FailoverPool counts it against no server's health (the server is fine; this
 * connection is full, as a gRPC client's RESOURCE_EXHAUSTED from a server's own quota is no
 * sign of a sick host). A bare Overloaded is not one: a filter shedding load, a handler's own
 * refusal or a downstream's passed on (and an older server's budget refusal) count as any
 * refusal does.
 */
export function refusedForRoom(err: Error, stream: { readonly heard: boolean }): boolean {
  return err instanceof RpcError && err.code === ErrorCode.Overloaded && err.retry === 'safe' && saysNoStreamRoom(err.message) && !stream.heard;
}
