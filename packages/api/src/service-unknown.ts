import { ErrorCode, RemoteError, RpcError, type ErrCodec, type ErrorPayload } from '@skein/core';
import { MAX_HEALTH_SERVICE_NAME } from './health-service-name.js';

/**
 * A health check of a service the server holds no status for: gRPC's NOT_FOUND. An RpcError
 * with core's not-found code for services (`ErrorCode.Service`, `rpc_service_notfound`), but
 * declared by the health service (`.throws`), so that it travels as the method's own error with
 * the name asked about, reaches the client as this class, and is told apart from a server that
 * has no health service at all (a bare `Service` error, not this class). A declared error is
 * the method's answer, not the server's trouble: no log line per probe of an unknown name.
 */
export class ServiceUnknown extends RpcError {
  /** The name asked about (`''`: the whole server). */
  readonly service: string;

  constructor(service: string) {
    super(ErrorCode.Service, `skein.health.Health.check: the server holds no health status for service ${JSON.stringify(service)}`);
    this.service = service;
  }
}

const utf8 = new TextEncoder();
// `ignoreBOM`: a name that begins with U+FEFF reads as sent (a default decoder drops it).
const fromUtf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** Sends the name as UTF-8 bytes; a payload of any other shape (a number) is none of this service's errors. */
export const serviceUnknownErrors: ErrCodec<ServiceUnknown> = {
  is: (err: unknown): err is ServiceUnknown => err instanceof ServiceUnknown,
  encode: (err: ServiceUnknown): ErrorPayload => utf8.encode(err.service),
  decode(payload: ErrorPayload): ServiceUnknown {
    if (typeof payload === 'number') throw new RemoteError(payload);
    // Cut to the bound a name has: a server's bytes, not a name to hold whole whatever its size.
    return new ServiceUnknown(fromUtf8.decode(payload).slice(0, MAX_HEALTH_SERVICE_NAME));
  },
};
