import { ErrorCode, RpcError } from '@skein/core';
import { DEFAULT_PATH } from './options.js';

/**
 * An upgrade answered with an HTTP status instead of 101: Unauthenticated for 401 and 403 (the
 * server's upgrade hook refused it), else Unreachable, a 404 saying what it most often means.
 */
export function upgradeRefused(url: string, status: number): RpcError {
  if (status === 401 || status === 403) {
    return new RpcError(ErrorCode.Unauthenticated, `${url} refused the connection: HTTP ${status}`);
  }
  // The path is what a 404 most often means: `ws://h:1/` and `ws://h:1?q` dial `/`, not the default `/skein`.
  const why = status === 404 ? ` (no Skein endpoint on that path? a server's default path is ${DEFAULT_PATH}, which an address with no path dials)` : '';
  return new RpcError(ErrorCode.Unreachable, `${url} answered HTTP ${status} instead of upgrading${why}`);
}
