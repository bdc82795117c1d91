import { ErrorCode, RpcError, connectTimerMs, invalidArgument, type Clock, type Ticker } from '@skein/core';
import { MAX_CREDENTIALS } from '../wire/auth.js';

/** Credentials as the server's `authenticate` hook gets them: bytes, or text sent as UTF-8. */
export type CredentialsValue = Uint8Array | string;

/**
 * What a client presents: a fixed token, or a function called for every new connection and
 * every renewal, so that a token can be fetched fresh (it may return a promise).
 */
export type Credentials = CredentialsValue | (() => CredentialsValue | Promise<CredentialsValue>);

/** Checks the `credentials` option's type (its value is checked each time it is fetched). */
export function checkCredentials(credentials: unknown, name: string): void {
  if (credentials === undefined || typeof credentials === 'function') return;
  if (typeof credentials === 'string' || credentials instanceof Uint8Array) {
    toBytes(credentials, name);
    return;
  }
  throw invalidArgument(`${name} must be a string, a Uint8Array or a function returning one`);
}

/** `checkCredentials` for a method that answers with a promise: the InvalidArgument to reject with, or undefined. */
export function credentialsError(credentials: unknown, name: string): Error | undefined {
  try {
    checkCredentials(credentials, name);
    return undefined;
  } catch (err) {
    return err as Error;
  }
}

/**
 * The credentials' bytes, fetched now. A function that throws, or returns something else than
 * bytes or text, fails with Unauthenticated (`retry: 'safe'`: nothing reached the server).
 */
export async function fetchCredentials(credentials: Credentials): Promise<Uint8Array> {
  let value: unknown;
  try {
    value = typeof credentials === 'function' ? await credentials() : credentials;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new RpcError(ErrorCode.Unauthenticated, `credentials could not be fetched: ${why}`, { cause: err, retry: 'safe' });
  }
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) {
    throw new RpcError(ErrorCode.Unauthenticated, `credentials function returned ${typeof value}, not a string or Uint8Array`, { retry: 'safe' });
  }
  return toBytes(value, 'credentials');
}

/** Credentials being fetched for a connect, and the bound on them. */
export interface BoundedFetch {
  readonly bytes: Promise<Uint8Array>;
  /**
   * Ends the bound: the connect failed otherwise (nothing listens, its abort). Left running, it
   * would hold a fetch that hangs (and its timer) up to `connectTimeoutMs` more, per attempt.
   */
  stop(): void;
}

/**
 * `fetching`, or Unauthenticated (`retry: 'safe'`, as for a function that throws) once it has not
 * settled within `timeoutMs` (a connect's `connectTimeoutMs`): a credentials function that never
 * settles must not hold a connect made without a signal for ever, nor the connection it opened.
 */
export function fetchedWithin(fetching: Promise<Uint8Array>, timeoutMs: number, clock: Clock): BoundedFetch {
  let timer!: Ticker;
  const bytes = new Promise<Uint8Array>((resolve, reject) => {
    timer = clock.every(connectTimerMs(timeoutMs), () => {
      timer.stop();
      reject(new RpcError(ErrorCode.Unauthenticated, `credentials could not be fetched: the credentials function did not settle within ${timeoutMs} ms`, { retry: 'safe' }));
    });
    fetching.then(resolve, reject).finally(() => timer.stop());
  });
  return { bytes, stop: () => timer.stop() };
}

function toBytes(value: CredentialsValue, name: string): Uint8Array {
  const bytes = typeof value === 'string' ? utf8.encode(value) : value;
  if (bytes.length > MAX_CREDENTIALS) throw invalidArgument(`${name} of ${bytes.length} bytes exceed ${MAX_CREDENTIALS}, the most a server reads`);
  return bytes;
}

const utf8 = new TextEncoder();

/** True for a refusal of credentials (Unauthenticated, PermissionDenied): trying again with the same ones will not help. */
export function isAuthRefusal(err: unknown): err is RpcError {
  return err instanceof RpcError && (err.code === ErrorCode.Unauthenticated || err.code === ErrorCode.PermissionDenied);
}
