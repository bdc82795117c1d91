/**
 * Error codes. 0-8 are razor-rpc's built-in errors, in razor's order, so the numbers and wire
 * strings match a razor-rpc peer. Skein's own codes start at 100 and keep the `rpc_` prefix.
 */
export const ErrorCode = {
  Unreachable: 0,
  IO: 1,
  Timeout: 2,
  Method: 3,
  Service: 4,
  Encode: 5,
  Decode: 6,
  Internal: 7,
  Version: 8,
  Cancelled: 100,
  Overloaded: 101,
  Unauthenticated: 102,
  FrameTooLarge: 103,
  Closed: 104,
  InvalidArgument: 105,
  /** Authenticated, but this principal may not do this (Unauthenticated: not known at all). */
  PermissionDenied: 106,
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];
export type ErrorName = keyof typeof ErrorCode;

/**
 * What a failover may do with a failed call:
 * - `safe`: the request never ran on the peer (never sent, or refused before dispatch); any call
 *   may be retried on another node.
 * - `idempotent`: the request may have run; retry only calls declared idempotent.
 * - `never`: another node would answer the same (bad method, bad input, handler error).
 *
 * The code's policy below is its default; an error's own `retry` describes its hop. Received
 * from a peer, only a server's bare refusal before dispatch (`rpc_overloaded`, `rpc_closed`) is
 * `safe`: a handler's error never is, and neither is an `rpc_unreachable` (the peer was reached).
 */
export type RetryPolicy = 'safe' | 'idempotent' | 'never';

interface CodeInfo {
  readonly name: ErrorName;
  readonly wire: string;
  readonly retry: RetryPolicy;
}

const info = (name: ErrorName, wire: string, retry: RetryPolicy): CodeInfo => ({ name, wire, retry });

export const CODE_INFO: Readonly<Record<ErrorCode, CodeInfo>> = {
  // Safe where it is raised: a connect that failed. From a peer it is a later hop's, and may have run.
  [ErrorCode.Unreachable]: info('Unreachable', 'rpc_unreachable', 'safe'),
  // An IO error is `safe` only when the request was never written; the stream says which.
  [ErrorCode.IO]: info('IO', 'rpc_io_err', 'idempotent'),
  [ErrorCode.Timeout]: info('Timeout', 'rpc_timeout', 'idempotent'),
  [ErrorCode.Method]: info('Method', 'rpc_method_notfound', 'never'),
  [ErrorCode.Service]: info('Service', 'rpc_service_notfound', 'never'),
  [ErrorCode.Encode]: info('Encode', 'rpc_encode', 'never'),
  [ErrorCode.Decode]: info('Decode', 'rpc_decode', 'never'),
  [ErrorCode.Internal]: info('Internal', 'rpc_internal_err', 'never'),
  [ErrorCode.Version]: info('Version', 'rpc_invalid_ver', 'never'),
  [ErrorCode.Cancelled]: info('Cancelled', 'rpc_cancelled', 'never'),
  [ErrorCode.Overloaded]: info('Overloaded', 'rpc_overloaded', 'safe'),
  [ErrorCode.Unauthenticated]: info('Unauthenticated', 'rpc_unauthenticated', 'never'),
  [ErrorCode.FrameTooLarge]: info('FrameTooLarge', 'rpc_frame_too_large', 'never'),
  [ErrorCode.Closed]: info('Closed', 'rpc_closed', 'safe'),
  [ErrorCode.InvalidArgument]: info('InvalidArgument', 'rpc_invalid_argument', 'never'),
  [ErrorCode.PermissionDenied]: info('PermissionDenied', 'rpc_permission_denied', 'never'),
};

const BY_WIRE = new Map<string, ErrorCode>(
  (Object.keys(CODE_INFO) as unknown as string[]).map((k) => {
    const code = Number(k) as ErrorCode;
    return [CODE_INFO[code].wire, code];
  }),
);

/** True for a built-in code (one CODE_INFO has): an HTTP status, -1 or 2^32 + 105 is none. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'number' && Number.isInteger(code) && CODE_INFO[code as ErrorCode] !== undefined;
}

/** The built-in code whose wire string is exactly `s`, if any. */
export function codeFromWire(s: string): ErrorCode | undefined {
  return BY_WIRE.get(s);
}
