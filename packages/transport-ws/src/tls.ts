import { connectTlsOptions, identityOf, invalidArgument, resolveTls, unusableTls, type Address, type PeerIdentity, type ResolvedTls, type TlsOptions } from '@skein/core';

/**
 * TLS for WebSocket: `wss://`. The same TlsOptions as every transport, with one difference: the
 * WebSocket handshake is HTTP/1.1, so no ALPN id is sent (`alpn` is ignored).
 */
export function secureFor(address: Address, tls: TlsOptions | undefined): boolean {
  return address.tls === true || tls !== undefined;
}

/** TLS options for the `ws` client under Node (passed on to `tls.connect`). */
export function wsClientTls(tls: TlsOptions | undefined): Record<string, unknown> {
  if (tls === undefined) return {};
  const s = resolveTls(connectTlsOptions(tls), 'connect');
  return {
    ...(s.ca && { ca: s.ca }),
    ...(s.cert !== undefined && { cert: s.cert, key: s.key }),
    ...(s.servername !== undefined && { servername: s.servername }),
    minVersion: s.minVersion,
    handshakeTimeout: s.handshakeTimeoutMs,
  };
}

/**
 * The second argument of a standard WebSocket constructor, for TLS. Bun's takes `{ tls }`;
 * browsers' and Deno's take none, so a CA, client certificate, server name or minimum version
 * cannot be given there: that is refused with InvalidArgument (install the CA where the runtime
 * reads it: the system store, or Deno's `--cert` / DENO_CERT). Deno's default client is `ws`,
 * which takes them.
 */
export function standardClientTls(tls: TlsOptions | undefined, isBun: boolean): { tls: Record<string, unknown> } | undefined {
  if (tls === undefined) return undefined;
  const s = resolveTls(connectTlsOptions(tls), 'connect');
  const tls13 = s.minVersion === 'TLSv1.3';
  const given = s.ca !== undefined || s.cert !== undefined || s.servername !== undefined || tls13;
  if (!given) return undefined;
  if (!isBun) {
    throw invalidArgument("tls: the standard WebSocket API takes no CA, client certificate, server name or minVersion here; trust the server's CA where the runtime reads it (the system store; Deno: --cert or DENO_CERT), or use the default client of Node, Bun or Deno, which takes them");
  }
  return {
    tls: {
      ...(s.ca && { ca: s.ca }),
      ...(s.cert !== undefined && { cert: s.cert, key: s.key }),
      ...(s.servername !== undefined && { serverName: s.servername }),
      // Bun's WebSocket takes the version as a number (as Bun.connect does); left out, it
      // completed TLS 1.2 handshakes whatever minVersion said.
      ...(tls13 && { minVersion: 0x0304 }),
      rejectUnauthorized: true,
    },
  };
}

/** `https.createServer` options for the ws server. */
export function httpsServerTls(s: ResolvedTls): Record<string, unknown> {
  return {
    cert: s.cert,
    key: s.key,
    ...(s.ca && { ca: s.ca }),
    minVersion: s.minVersion,
    requestCert: s.requestCert,
    rejectUnauthorized: true,
    handshakeTimeout: s.handshakeTimeoutMs,
  };
}

/**
 * `make`, which loads a certificate, key or CA into OpenSSL (the https server, or its reload):
 * what OpenSSL will not load is InvalidArgument, as on every transport, and nothing changes.
 */
export function loadingTls<T>(make: () => T): T {
  try {
    return make();
  } catch (err) {
    throw unusableTls((err as Error).message, err);
  }
}

/** The verified client identity of an accepted wss connection (mTLS), read from its socket. */
export function identityOfRequest(socket: unknown): PeerIdentity | undefined {
  const tlsSocket = socket as { authorized?: boolean; getPeerCertificate?: () => unknown };
  if (!tlsSocket.authorized || typeof tlsSocket.getPeerCertificate !== 'function') return undefined;
  return identityOf(tlsSocket.getPeerCertificate() as Parameters<typeof identityOf>[0]);
}
