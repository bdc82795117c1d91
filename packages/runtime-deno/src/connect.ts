import { DEFAULT_CONNECT_TIMEOUT_MS, ErrorCode, RpcError, connectAborted, connectFailed, connectTimerMs, formatAddress, handshakeTimer, tlsFailure, unusableTls, whenAborted } from '@skein/core';
import type { Address, ByteConn, ConnectOptions, ResolvedTls } from '@skein/core';
import { DenoByteConn } from './byte-conn.js';
import { cancelOnly } from './connect-signal.js';
import type { DenoApi, DenoConn } from './native-api.js';
import { isPermissionError } from './permission-error.js';
import { isRustlsLoadError, rustlsLoadWhy } from './rustls-load-error.js';
import { denoTarget, describe } from './socket-address.js';
import { connectOptions, denoConnectTls } from './tls.js';

declare const Deno: DenoApi;

/**
 * Opens a TCP or Unix socket connection; every failure rejects with Unreachable, except a missing
 * permission (isPermissionError), which is the program's fault, not the network's: no other node would do,
 * and TLS options Deno cannot use (InvalidArgument), some of which rustls finds only once TCP is up.
 * An abort of `signal` gives the connect up at once (Cancelled), closing what comes of it.
 */
export async function connect(address: Address, options: ConnectOptions = {}): Promise<ByteConn> {
  const remote = formatAddress(address);
  const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  // What Deno's TLS cannot do throws InvalidArgument here, before anything is dialled.
  const secure = options.tls === undefined ? undefined : denoConnectTls(address, options.tls);
  const { signal } = options;
  if (signal?.aborted) throw connectAborted(remote, signal.reason);
  if (secure && !('path' in address)) return connectSecure(address, secure, remote, timeoutMs, signal);
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), connectTimerMs(timeoutMs));
  const unhook = whenAborted(signal, () => abort.abort());
  try {
    const target = denoTarget(address);
    const pending = target.transport === 'tcp' ? Deno.connect({ ...target, signal: cancelOnly(abort) }) : Deno.connect(target);
    const conn = await abortable(pending, abort.signal);
    if (target.transport === 'tcp') conn.setNoDelay?.(options.noDelay ?? true);
    return new DenoByteConn(conn, remote);
  } catch (err) {
    if (isPermissionError(err)) throw err;
    if (signal?.aborted) throw connectAborted(remote, signal.reason);
    throw connectFailed(remote, abort.signal.aborted ? `no connection after ${timeoutMs} ms` : describe(err), err);
  } finally {
    clearTimeout(timer);
    unhook();
  }
}

/** Rejects when `signal` aborts first (a Unix connect takes no signal); a late connection is closed. */
function abortable(pending: Promise<DenoConn>, signal: AbortSignal): Promise<DenoConn> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      reject(signal.reason);
      pending.then((conn) => conn.close(), () => {});
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * A TLS connection, up once its handshake is done (Deno would otherwise run it at the first
 * read): `timeoutMs` counts through the handshake, one budget for TCP and TLS, the handshake
 * bounded by `handshakeTimeoutMs` too.
 */
async function connectSecure(address: { host: string; port: number }, s: ResolvedTls, remote: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<ByteConn> {
  const startedAt = performance.now();
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), connectTimerMs(timeoutMs));
  // The caller's abort ends both steps: the TCP connect (through `abort`) and the handshake.
  const unhook = whenAborted(signal, () => abort.abort());
  const { start, options } = connectOptions(address, s);
  let conn: DenoConn;
  try {
    conn = start
      ? await abortable(Deno.connect({ transport: 'tcp', hostname: address.host, port: address.port, signal: cancelOnly(abort) }), abort.signal)
      : await abortable(Deno.connectTls(options), abort.signal);
  } catch (err) {
    // It ends here: the caller's signal, which may outlive many connects, keeps no listener of it.
    unhook();
    if (isPermissionError(err)) throw err;
    // rustls would not load the client certificate, key or CA (a damaged key, a key that is
    // not the certificate's), or Deno its CA file: the caller's options, InvalidArgument as on Node and Bun.
    if (isRustlsLoadError(err)) throw unusableTls(rustlsLoadWhy(err), err);
    if (signal?.aborted) throw connectAborted(remote, signal.reason);
    throw connectFailed(remote, abort.signal.aborted ? `no connection after ${timeoutMs} ms` : describe(err), err);
  } finally {
    clearTimeout(timer);
  }
  let upgraded = !start;
  try {
    if (start) {
      conn = await Deno.startTls(conn, { hostname: options.hostname, ...(options.caCerts && { caCerts: options.caCerts }), ...(options.alpnProtocols && { alpnProtocols: options.alpnProtocols }) });
      upgraded = true;
    }
    const bound = handshakeTimer(timeoutMs, performance.now() - startedAt, s.handshakeTimeoutMs);
    await within(conn.handshake!(), bound.ms, bound.why, abort.signal);
  } catch (err) {
    // Given up mid-handshake (timeout, abort), Deno keeps the socket until the server sends or
    // closes: its TlsConn's close awaits the handshake task, which owns the socket and has no
    // bound (denoland/deno#14547; rustls-tokio-stream's TlsStream drop). Deno's API has no way
    // around it: startTls takes the TCP conn (closing it then throws BadResource), and closing
    // the TlsConn, from connectTls or startTls, leaves the socket to that task (Deno 2.9.6).
    try {
      conn.close();
    } catch {
      // already closed by Deno
    }
    if (!upgraded) throw startTlsRefused(err, s);
    if (signal?.aborted) throw connectAborted(remote, signal.reason);
    // Deno cannot tell whether the server answered in TLS before it closed.
    throw tlsFailure(remote, describe(err), err, { presentedCert: s.cert !== undefined });
  } finally {
    unhook();
  }
  conn.setNoDelay?.(true);
  return new DenoByteConn(conn, remote, { presentedCert: s.cert !== undefined });
}

/**
 * What Deno.startTls threw: it does no I/O (the handshake runs after it), so it is the caller's
 * options (a CA rustls or Deno cannot load, a servername Deno cannot send), never the network's:
 * InvalidArgument, as connectTls's load errors and as on Node and Bun, which no retry heals.
 */
function startTlsRefused(err: unknown, s: ResolvedTls): RpcError {
  if (isRustlsLoadError(err)) return unusableTls(rustlsLoadWhy(err), err);
  return new RpcError(ErrorCode.InvalidArgument, `tls: Deno.startTls refused the options (servername ${JSON.stringify(s.servername)}): ${describe(err)}`, { cause: err });
}

/** `pending`, or a rejection saying `why` once `ms` (a timer's, see handshakeTimer) have passed, or at once when `signal` aborts. */
function within<T>(pending: Promise<T>, ms: number, why: string, signal: AbortSignal): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let unhook = (): void => {};
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(why)), ms);
    unhook = whenAborted(signal, () => reject(new Error('aborted')));
  });
  return Promise.race([pending, late]).finally(() => {
    clearTimeout(timer);
    unhook();
  });
}
