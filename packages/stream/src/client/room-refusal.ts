import { ErrorCode, RpcError } from '@skein/core';
import { saysNoStreamRoom } from '../wire/stream-room.js';

/**
 * `err`, the answer to `stream`'s opening, read as a refusal for room on its connection (safe to
 * retry: it never ran) when it is Overloaded with exactly one of the two `streamRoomDetail`
 * strings and came before its server said anything of the stream. Only a stream's opening is read
 * so: a unary call's or a reverse call's answer with those words is a handler's, and may have run
 * (`readErrorBytes`).
 */
export function roomRefusal<E extends Error>(err: E, stream: { readonly heard: boolean }): E | RpcError {
  if (!(err instanceof RpcError) || err.code !== ErrorCode.Overloaded || stream.heard || !saysNoStreamRoom(err.message)) return err;
  return new RpcError(ErrorCode.Overloaded, err.message, { retry: 'safe' });
}

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
