import { ErrorCode, RpcError } from '@skein/core';
import type { CallInfo, ServerFilter } from './filters.js';
import { checkOptionKey } from './metadata-keys.js';
import { isThenable } from './thenable.js';

/**
 * Checks a call's bearer token: returns who it belongs to (any value but undefined), or
 * refuses: returns undefined (Unauthenticated) or throws an RpcError (Unauthenticated,
 * PermissionDenied... it keeps its code and message).
 */
export type BearerCheck = (token: string, info: CallInfo) => unknown;

export interface BearerAuthOptions {
  /** The metadata key the token is under (1 to 255 bytes, not a reserved one: checked when the filter is made). Default `authorization`, as `Bearer <token>`. */
  key?: string | undefined;
  /** Calls that need no token (a health check): true lets the call through unchecked. */
  skip?: ((info: CallInfo) => boolean) | undefined;
}

const BEARER = /^Bearer +(\S+) *$/i;

/**
 * A server filter for per-call credentials: every call must carry `authorization: Bearer
 * <token>` in its metadata (the client's `metadata` call option), and `check` must accept the
 * token, before the handler runs. The principal it returns is put in `info.meta.principal`,
 * which the handler sees as `ctx.meta.principal`. A refusal reaches the client as
 * Unauthenticated (or the check's own RpcError), never run, and is not retried elsewhere.
 */
export function bearerAuth(check: BearerCheck, opts: BearerAuthOptions = {}): ServerFilter {
  if (typeof check !== 'function') throw new RpcError(ErrorCode.InvalidArgument, 'bearerAuth needs a check function');
  // Checked here: a key no client can send (empty, too long, reserved) refused every call, unsaid why.
  const key = checkOptionKey(opts.key ?? 'authorization', 'bearerAuth');
  const skip = opts.skip;
  return {
    name: 'bearer-auth',
    before(info) {
      if (skip?.(info)) return;
      const value = info.metadata?.[key];
      if (value === undefined) throw refused(`${info.action}: no bearer token (metadata '${key}')`);
      const token = BEARER.exec(value)?.[1];
      if (token === undefined) throw refused(`${info.action}: metadata '${key}' is not 'Bearer <token>'`);
      const principal = check(token, info);
      // Any thenable, not only a native Promise: a query builder's (or another realm's) result
      // taken as the principal itself would let every token through.
      if (isThenable(principal)) return Promise.resolve(principal).then((p) => accept(info, p));
      accept(info, principal);
    },
  };
}

function accept(info: CallInfo, principal: unknown): void {
  if (principal === undefined) throw refused(`${info.action}: bearer token refused`);
  info.meta.principal = principal;
}

const refused = (message: string): RpcError => new RpcError(ErrorCode.Unauthenticated, message);
