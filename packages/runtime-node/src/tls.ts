import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { connectTimerMs, identityOf, parsedBy, sniName, unusableTls, refuseDamagedCa, reloadedTlsOptions, resolveTls, type Address, type PeerIdentity, type ResolvedTls, type TlsOptions } from '@skein/core';

/** A TLS listener's current settings: swapped whole by `reloadTls`, read by each new connection. */
export interface ServerTls {
  readonly given: TlsOptions;
  readonly settings: ResolvedTls;
  readonly context: tls.SecureContext;
}

export function serverTls(given: TlsOptions, settings = resolveTls(given, 'listen')): ServerTls {
  return { given, settings, context: secureContext(settings) };
}

export function reloadServerTls(current: ServerTls, next: TlsOptions): ServerTls {
  return serverTls(reloadedTlsOptions(current.given, next));
}

/** OpenSSL's own certificate parser: it refuses damage inside a field (a name, a key) that core's structural check lets through. */
const x509Problem = parsedBy(X509Certificate);

/**
 * The context of a listener or a client. OpenSSL throws for a damaged certificate or key, but
 * loads a CA up to its first damaged certificate, silently: each certificate of the CA is
 * parsed first, as OpenSSL would, and a damaged one refused.
 */
function secureContext(s: ResolvedTls): tls.SecureContext {
  refuseDamagedCa(s.ca, x509Problem);
  try {
    return tls.createSecureContext({ cert: s.cert, key: s.key, ca: s.ca, minVersion: s.minVersion });
  } catch (err) {
    // A key that is not the certificate's, or PEM that does not parse.
    throw unusableTls((err as Error).message, err);
  }
}

/**
 * Wraps an accepted socket in TLS, as `tls.Server` does, but at accept: the connection exists
 * (and counts) from its first byte, and reads nothing until the handshake is done. A client
 * certificate is checked like `tls.Server` checks it (`requestCert` with `rejectUnauthorized`):
 * OpenSSL refuses a missing one in the handshake; one that does not verify (expired, another
 * CA) is refused here, once the handshake reports the result, before a byte of it is read.
 */
export function acceptTls(raw: net.Socket, current: ServerTls): tls.TLSSocket {
  const { settings } = current;
  // Not half-open until secured (the TLSSocket copies the setting from `raw`): a FIN before the
  // handshake is done (a scanner, a client that gave up mid-ClientHello) was a half-close the
  // socket waited on, though with no session nothing can be sent on it, and a conn bound after
  // it was told nothing at all: it held its place under the cap until handshakeTimeoutMs. Now
  // its socket closes at once. Half-open again once secured: replies are owed after a half-close
  // (byte-conn.ts).
  raw.allowHalfOpen = false;
  const socket = new tls.TLSSocket(raw, {
    isServer: true,
    secureContext: current.context,
    requestCert: settings.requestCert,
    rejectUnauthorized: true,
    ALPNProtocols: settings.alpn === undefined ? undefined : [settings.alpn],
  });
  // Paused, as NodeByteConn wants its socket: `pauseOnConnect` paused only `raw`, and a TLSSocket
  // not paused starts flowing when bind adds its 'data' listener, whatever the connection's
  // pause() said: one paused before its handshake then read on past it, holding all the peer
  // sent until resume(). The handshake runs all the same (TLSSocket reads for it from the start).
  socket.pause();
  // Capped: past 2^31-1 ms setTimeout fires at once, closing every connection before its handshake.
  const timer = setTimeout(() => socket.destroy(new Error(`TLS handshake not done within ${settings.handshakeTimeoutMs} ms`)), connectTimerMs(settings.handshakeTimeoutMs));
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('secure', () => {
    clearTimeout(timer);
    socket.allowHalfOpen = true;
    if (!settings.requestCert) return;
    const refused = verifyError(socket);
    if (refused) socket.destroy(new Error(`TLS client certificate refused: ${refused}`));
    else socket.authorized = true;
  });
  return socket;
}

/**
 * Why the client certificate did not verify, or undefined when it did. Node keeps OpenSSL's
 * verdict on the socket's native handle (what tls.Server reads too); a handle without it is
 * taken as a refusal: never let an unverified peer in.
 */
function verifyError(socket: tls.TLSSocket): string | undefined {
  const handle = (socket as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } })._handle;
  if (typeof handle?.verifyError !== 'function') return 'this Node.js cannot report the verification result';
  const err = handle.verifyError();
  return err ? `${err.code ?? ''} ${err.message}`.trim() : undefined;
}

/**
 * `tls.connect` options for a client. Its context is made here, as for a listener, so that a
 * damaged certificate, key or CA is our InvalidArgument (tls.connect would throw OpenSSL's own
 * error, or take a damaged CA silently).
 */
export function connectTls(address: Address, s: ResolvedTls): tls.ConnectionOptions {
  const host = 'path' in address ? undefined : address.host;
  // Without a servername Node checks the certificate against the host dialled (its IP SANs for an
  // IP). A Unix socket has no host name: the chain is verified and no name checked (as on Bun).
  const servername = sniName(host, s);
  return {
    secureContext: secureContext(s),
    ALPNProtocols: s.alpn === undefined ? undefined : [s.alpn],
    ...(servername !== undefined && { servername }),
    ...(servername === undefined && s.servername === undefined && host === undefined && { checkServerIdentity: () => undefined }),
  };
}

/**
 * Runtime.loadConnectTls: the context a connect with `tls` would make, made and dropped, so that
 * what OpenSSL will not load is the InvalidArgument a listener's reload gives (secureContext's).
 */
export async function loadConnectTls(tls: TlsOptions): Promise<void> {
  secureContext(resolveTls(tls, 'connect'));
}

/** The verified peer of a TLS socket: the client's certificate once authorized, the server's on a client. */
export function identityOfSocket(socket: net.Socket): PeerIdentity | undefined {
  if (!(socket instanceof tls.TLSSocket) || !socket.authorized) return undefined;
  return identityOf(socket.getPeerCertificate());
}
