import type { RpcError } from '@skein/core';

/**
 * The message to send after a built-in error's reserved string, if any. Skein's own codes
 * (100 and up) always carry theirs; razor-rpc's carry it only when `expose` is set, because a
 * razor peer would read a detailed string as a custom error.
 */
export function errorDetail(err: RpcError, expose = false): string | undefined {
  if (err.message === err.wire) return undefined;
  return err.code >= 100 || expose ? err.message : undefined;
}
