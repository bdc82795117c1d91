import type { Attributes } from '@opentelemetry/api';
import { ErrorCode, RemoteError, RpcError } from '@skein/core';
import { ATTR_ERROR_TYPE, ATTR_SKEIN_CUSTOM_ERROR, ATTR_SKEIN_ERROR_CODE, CUSTOM_ERROR_TYPE } from './semconv.js';

/** How a failed call is named in metrics and spans: the code's name (`Timeout`), `custom`, or the error's class name. */
export function errorType(err: unknown): string {
  if (err instanceof RpcError) return err.codeName;
  if (err instanceof RemoteError) return CUSTOM_ERROR_TYPE;
  return err instanceof Error ? err.name : 'Error';
}

/** The span attributes of a failure: `error.type`, and the code (or custom error number) as it travelled. */
export function errorAttributes(err: unknown): Attributes {
  if (err instanceof RpcError) return { [ATTR_ERROR_TYPE]: err.codeName, [ATTR_SKEIN_ERROR_CODE]: err.code };
  if (err instanceof RemoteError && typeof err.payload === 'number') return { [ATTR_ERROR_TYPE]: CUSTOM_ERROR_TYPE, [ATTR_SKEIN_CUSTOM_ERROR]: err.payload };
  return { [ATTR_ERROR_TYPE]: errorType(err) };
}

/**
 * Codes that say the server failed, as gRPC's conventions mark a server span in error only for
 * its own faults: a bad argument, an undecodable message or a custom error is the caller's business
 * (still an error on the client span, and counted by code either way).
 */
const SERVER_FAULTS: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  ErrorCode.Internal,
  ErrorCode.Encode,
  // gRPC counts UNIMPLEMENTED as the server's: a client built for a server that is not deployed.
  ErrorCode.Method,
  ErrorCode.Service,
  ErrorCode.Timeout,
  ErrorCode.Overloaded,
  ErrorCode.Closed,
  ErrorCode.Unreachable,
  ErrorCode.IO,
  ErrorCode.FrameTooLarge,
]);

export function isServerFault(err: unknown): boolean {
  return err instanceof RpcError ? SERVER_FAULTS.has(err.code) : !(err instanceof RemoteError);
}

/** The server has no such action: a name the peer chose, not one of the server's. */
export function isUnknownAction(err: unknown): boolean {
  return err instanceof RpcError && (err.code === ErrorCode.Method || err.code === ErrorCode.Service);
}
