import { ErrorCode, RpcError } from '@skein/core';
import type { CallInfo, Filter } from './filters.js';
import { isThenable } from './thenable.js';

/** The token to send now: a string, or a promise (any thenable) of one; asked once per call, so a token that rotates is read fresh. */
export type BearerTokenSource = (info: CallInfo) => string | PromiseLike<string>;

export interface BearerTokenOptions {
  /** The metadata key the token goes under, as the server's `bearerAuth` reads it. Default `authorization`, as `Bearer <token>`. */
  key?: string;
}

/**
 * The client filter that pairs with the server's `bearerAuth`: sets `authorization: Bearer
 * <token>` in each call's metadata (`info.setMetadata`), with the token `token` gives for that
 * call. An asynchronous one (a refresh) is waited for within the call's bounds, as any client
 * filter's `before` is. One that gives no string fails the call with Unauthenticated, unsent
 * (`retry: 'safe'`: no server saw it), as a connection's credentials function that fails does.
 */
export function bearerToken(token: BearerTokenSource, opts: BearerTokenOptions = {}): Filter {
  if (typeof token !== 'function') throw new RpcError(ErrorCode.InvalidArgument, 'bearerToken needs a function that returns the token');
  const key = opts.key ?? 'authorization';
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

function send(info: CallInfo, key: string, token: unknown): void {
  if (typeof token !== 'string' || token === '') {
    throw new RpcError(ErrorCode.Unauthenticated, `${info.action}: the bearer token function returned ${token === '' ? 'an empty string' : typeof token}, not a token`, { retry: 'safe' });
  }
  info.setMetadata(key, `Bearer ${token}`);
}
