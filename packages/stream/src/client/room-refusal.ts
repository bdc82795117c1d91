import { ErrorCode, RpcError } from '@skein/core';

/**
 * True when `stream` was refused unrun by a cap of its connection alone: a bare Overloaded
 * (`retry: 'safe'`) before its server said anything of it (no item or credit), which is what a
 * Skein server answers a stream past its connection's `streamBudgetBytes` or its cap on open
 * streams. Another connection, to the same server or another, may well have room: a pool opens
 * it there, and a FailoverPool counts it against no server's health (the server is fine; this
 * connection is full, as a gRPC client's RESOURCE_EXHAUSTED from a server's own quota is no
 * sign of a sick host).
 */
export function refusedForRoom(err: Error, stream: { readonly heard: boolean }): boolean {
  return err instanceof RpcError && err.code === ErrorCode.Overloaded && err.retry === 'safe' && err.message === err.wire && !stream.heard;
}
