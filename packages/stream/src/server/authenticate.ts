import { ErrorCode, RpcError } from '@skein/core';
import type { ConnInfo } from './request.js';

/** What a server's `authenticate` hook is asked to judge. */
export interface AuthRequest {
  /** The credentials as the client sent them (its `credentials` option's bytes). */
  readonly credentials: Uint8Array;
  /** The credentials read as UTF-8 (a token given as a string comes back as it was). */
  readonly text: string;
  /** The connection they came on (its peer identity too, where the transport verified one). */
  readonly conn: ConnInfo;
  /** True when they renew credentials accepted before on this connection; false for the first ones. */
  readonly renewal: boolean;
  /** The principal accepted so far on this connection (on a renewal), else undefined. */
  readonly current: unknown;
  /**
   * Aborts when the server stops waiting for this run of the hook: at `authTimeoutMs` (reason:
   * RpcError Timeout, the credentials refused as timed out), when the connection closes (IO,
   * "connection lost"), or when the server begins to close (Closed, "the server is closing", the
   * credentials answered so). Pass it to what the hook waits on (a fetch to an identity
   * provider): a hook the server no longer waits for cannot stop by itself, and a renewal may
   * start a new run every `authTimeoutMs`. Made when first read: a hook that never reads it
   * costs none. Never aborts once the hook's answer was taken.
   */
  readonly signal: AbortSignal;
}

/** The hook's acceptance. */
export interface AuthGrant {
  /** Who the client is: reaches every request (`req.principal`) and the api's `ctx.principal`. Anything but undefined. */
  readonly principal: unknown;
  /**
   * How long the credentials stay good, in ms. The client is told and renews them before (by
   * default when three quarters of it have passed); calls after it are refused with
   * Unauthenticated until a renewal is accepted. Default: no expiry.
   */
  readonly expiresInMs?: number | undefined;
}

/**
 * Accepts credentials (returns a grant) or refuses them: by throwing an RpcError with code
 * Unauthenticated or PermissionDenied (its message is sent to the client), or by returning
 * undefined (Unauthenticated). Anything else it throws is logged and refused as Unauthenticated
 * without the message.
 */
export type Authenticate = (req: AuthRequest) => AuthGrant | undefined | Promise<AuthGrant | undefined>;

/** A refusal as it goes to the client and into the log. */
export interface AuthRefusal {
  readonly code: ErrorCode;
  /** Sent to the client after the code. */
  readonly detail: string;
  /** Logged only: what the hook threw, when it was not a refusal. */
  readonly err?: unknown;
}

/** Runs the hook and settles with its grant or a refusal, never rejecting. */
export function runAuthenticate(hook: Authenticate, req: AuthRequest): Promise<AuthGrant | AuthRefusal> {
  // checkGrant reads the hook's object, whose getters may throw: that is the hook failing too, refused as such.
  return new Promise<AuthGrant | undefined>((resolve) => resolve(hook(req))).then(checkGrant).then(undefined, refusalOf);
}

export function isRefusal(outcome: AuthGrant | AuthRefusal): outcome is AuthRefusal {
  return 'code' in outcome;
}

function checkGrant(grant: AuthGrant | undefined): AuthGrant | AuthRefusal {
  if (grant === undefined || grant === null) return { code: ErrorCode.Unauthenticated, detail: 'credentials refused' };
  const principal: unknown = typeof grant === 'object' ? grant.principal : undefined;
  if (principal === undefined) {
    return refusalOf(new TypeError('authenticate must return { principal } (or undefined to refuse)'));
  }
  const ttl = grant.expiresInMs;
  if (ttl !== undefined && !(typeof ttl === 'number' && ttl >= 0 && ttl < Infinity)) {
    return refusalOf(new TypeError(`authenticate returned expiresInMs ${ttl}: must be a finite number of ms, 0 or more`));
  }
  // Already expired: the same as refused, said plainly.
  if (ttl === 0) return { code: ErrorCode.Unauthenticated, detail: 'credentials expired' };
  // A grant of its own, of what was checked: the hook's object may carry more (a `code` of its own
  // would read as a refusal: isRefusal), or getters that answer otherwise when read again.
  return ttl === undefined ? { principal } : { principal, expiresInMs: ttl };
}

function refusalOf(err: unknown): AuthRefusal {
  if (err instanceof RpcError && (err.code === ErrorCode.Unauthenticated || err.code === ErrorCode.PermissionDenied)) {
    return { code: err.code, detail: err.message === err.wire ? 'credentials refused' : err.message };
  }
  return { code: ErrorCode.Unauthenticated, detail: 'authentication failed', err };
}
