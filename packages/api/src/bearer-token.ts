import { ErrorCode, RpcError } from '@skein/core';
import type { CallInfo, Filter } from './filters.js';
import { checkOptionKey } from './metadata-keys.js';
import { isThenable } from './thenable.js';

/** The token to send now: a string, or a promise (any thenable) of one; asked once per call, so a token that rotates is read fresh. */
export type BearerTokenSource = (info: CallInfo) => string | PromiseLike<string>;

export interface BearerTokenOptions {
  /** The metadata key the token goes under, as the server's `bearerAuth` reads it (1 to 255 bytes, as a call head carries one; not a reserved one, `skein-stream`). Default `authorization`, as `Bearer <token>`. */
  key?: string | undefined;
}

/**
 * The client filter that pairs with the server's `bearerAuth`: sets `authorization: Bearer
 * <token>` in each call's metadata (`info.setMetadata`), with the token `token` gives for that
 * call. An asynchronous one (a refresh) is waited for within the call's bounds, as any client
 * filter's `before` is. One that gives no token (no string, an empty one, or one with
 * whitespace, which `bearerAuth` refuses: a trailing newline read from a file) fails the call
 * with Unauthenticated, unsent (`retry: 'safe'`: no server saw it), as a connection's
 * credentials function that fails does. A `key` no call head can carry, or a reserved one, is
 * refused here, with InvalidArgument, rather than failing every call.
 */
export function bearerToken(token: BearerTokenSource, opts: BearerTokenOptions = {}): Filter {
  if (typeof token !== 'function') throw new RpcError(ErrorCode.InvalidArgument, 'bearerToken needs a function that returns the token');
  const key = checkOptionKey(opts.key ?? 'authorization', 'bearerToken');
  return {
    name: 'bearer-token',
    before(info) {
      const t = token(info);
      // Any thenable: one taken as the token itself would send `Bearer [object Object]`.
      if (isThenable(t)) return Promise.resolve(t).then((v) => send(info, key, v));
      send(info, key, t);
    },
  };
}

/** What `bearerAuth` takes as a token (`Bearer +(\S+) *`): sent with any whitespace, it is refused by the server, not retried. */
const TOKEN = /^\S+$/;

function send(info: CallInfo, key: string, token: unknown): void {
  if (typeof token !== 'string' || !TOKEN.test(token)) throw notAToken(info.action, token);
  info.setMetadata(key, `Bearer ${token}`);
}

/** Says what was wrong with what the function gave, never the token itself (a log line would keep it). */
function notAToken(action: string, token: unknown): RpcError {
  const what = typeof token !== 'string' ? typeof token : token === '' ? 'an empty string' : 'a string with whitespace in it';
  return new RpcError(ErrorCode.Unauthenticated, `${action}: the bearer token function returned ${what}, not a token`, { retry: 'safe' });
}
