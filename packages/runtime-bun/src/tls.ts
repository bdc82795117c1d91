import { X509Certificate } from 'node:crypto';
import { identityOf, listenFailed, loadPairOnTrialListener, parsedBy, refuseDamagedCa, resolveTls, sniName, unusableTls, type Address, type RpcError, type PeerIdentity, type ResolvedTls, type TlsOptions } from '@skein/core';
import type { BunApi, BunSocket, BunSocketListener, BunTlsOptions } from './native-api.js';
import { describe } from './socket-address.js';

declare const Bun: BunApi;

/** Bun's TLS options for a listen, or a connect to `address`. */
export function bunTls(s: ResolvedTls, side: 'connect' | 'listen', address?: Address): BunTlsOptions {
  return {
    ...(s.cert !== undefined && { cert: s.cert, key: s.key }),
    ...(s.ca !== undefined && { ca: s.ca }),
    // Bun sends the host dialled as SNI, an IP address too; '' sends none, and Bun still checks
    // the certificate against the host dialled (its IP SANs).
    ...(side === 'connect' && { serverName: sniName(address && 'host' in address ? address.host : undefined, s) ?? '' }),
    // ALPN in wire format: each id preceded by its length.
    ...(s.alpn !== undefined && { ALPNProtocols: String.fromCharCode(s.alpn.length) + s.alpn }),
    minVersion: s.minVersion === 'TLSv1.3' ? 0x0304 : 0x0303,
    // A Unix socket has no host name: with no servername, the chain is verified and no name is
    // checked (Bun would check 'localhost'). Bun cannot skip the name check alone, so it reports
    // the verdict and `clientVerdict` lets only a name mismatch through.
    rejectUnauthorized: !(side === 'connect' && namesNothing(s, address)),
    ...(side === 'listen' && { requestCert: s.requestCert }),
  };
}

/** A connect to a Unix socket with no `servername`: there is no name to check the server against. */
const namesNothing = (s: ResolvedTls, address: Address | undefined): boolean => s.servername === undefined && address !== undefined && 'path' in address;

/**
 * A client handshake's verdict as Skein judges it: on a Unix socket with no `servername` (where
 * `bunTls` asked Bun not to reject) a name mismatch alone is no failure (Bun reports it with
 * `success` false); every other error (an untrusted chain, an expired certificate) stands.
 * BoringSSL reports a chain error before Bun checks the name, so a mismatch means the chain verified.
 */
export function clientVerdict<E extends Error & { code?: string }>(s: ResolvedTls, address: Address, success: boolean, err: E | null): { success: boolean; err: E | null } {
  return err?.code === 'ERR_TLS_CERT_ALTNAME_INVALID' && namesNothing(s, address) ? { success: true, err: null } : { success, err };
}

/** BoringSSL's own certificate parser (Bun's node:crypto): it refuses damage inside a field (a name, a key) that core's structural check lets through. */
const x509Problem = parsedBy(X509Certificate);

/**
 * `tls` checked and with its defaults. BoringSSL refuses a CA whose first certificate is
 * damaged ("Invalid CA"), but loads one whose later certificate is, silently, without it: each
 * certificate of the CA is parsed first, as BoringSSL would, and a damaged one refused.
 */
export function resolveBunTls(tls: TlsOptions, side: 'connect' | 'listen'): ResolvedTls {
  const s = resolveTls(tls, side);
  refuseDamagedCa(s.ca, x509Problem);
  return s;
}

export const resolveListenTls = (tls: TlsOptions): ResolvedTls => resolveBunTls(tls, 'listen');

/**
 * An error of Bun.listen or Bun.connect with TLS that is BoringSSL's (ERR_OSSL_*, ERR_BORINGSSL:
 * a damaged key, a key that is not the certificate's) rather than the system's (an errno, EMFILE,
 * ECONNREFUSED): the InvalidArgument the listen or connect rejects with.
 */
export function tlsLoadFailure(err: unknown): RpcError | undefined {
  return /^ERR_(OSSL|BORINGSSL)/.test((err as { code?: string })?.code ?? '') ? unusableTls(describe(err), err) : undefined;
}

/**
 * `tls` for a listener on `host`, checked and loaded once by BoringSSL on a port of its own
 * (closed at once): what a reload must pass before the listener it replaces is stopped. A
 * certificate, key or CA that does not load is InvalidArgument.
 */
export function loadedListenTls(tls: TlsOptions, host: string): ResolvedTls {
  const settings = resolveListenTls(tls);
  let trial: BunSocketListener;
  try {
    trial = Bun.listen({ hostname: host, port: 0, socket: { open: (s) => s.close(), data() {} }, tls: bunTls(settings, 'listen') });
  } catch (err) {
    // An errno (EMFILE, EADDRNOTAVAIL) is the system's; the rest (ERR_OSSL_*, ERR_BORINGSSL) the certificate's.
    if (/^E[A-Z0-9]+$/.test((err as { code?: string }).code ?? '')) throw listenFailed(`${host}:0`, `cannot try the new certificate: ${describe(err)}`, err);
    throw unusableTls(describe(err), err);
  }
  trial.stop(true);
  return settings;
}

/**
 * Runtime.loadConnectTls: a client certificate and key loaded by BoringSSL as a listener's reload
 * loads them (loadedListenTls, on loopback; core's loadPairOnTrialListener), so that a key that
 * is not the certificate's is the same InvalidArgument.
 */
export async function loadConnectTls(tls: TlsOptions): Promise<void> {
  loadPairOnTrialListener(resolveBunTls(tls, 'connect'), (pair) => loadedListenTls(pair, '127.0.0.1'));
}

/**
 * Where a TLS connection is in its handshake. A connection exists from its TCP accept; no byte
 * of it is delivered before `verified` (Bun reads nothing before the handshake either).
 */
export class TlsState {
  /** The handshake is done, and the peer's certificate (if asked for) verified. */
  verified = false;
  private identityRead = false;
  private identityValue: PeerIdentity | undefined;

  constructor(readonly settings: ResolvedTls) {}

  /** The peer's verified identity, read once: on a server only with requestCert. */
  identity(socket: BunSocket<unknown>, side: 'client' | 'server'): PeerIdentity | undefined {
    if (!this.verified || (side === 'server' && !this.settings.requestCert)) return undefined;
    if (!this.identityRead) {
      this.identityRead = true;
      this.identityValue = identityOf(socket.getPeerCertificate?.());
    }
    return this.identityValue;
  }
}

/** Why a finished handshake does not let the peer in, or undefined when it does. */
export function handshakeRefusal(success: boolean, authorizationError: (Error & { code?: string }) | null, requestCert: boolean, side: 'client' | 'server'): string | undefined {
  if (!success) return authorizationError ? `${authorizationError.code ?? ''} ${authorizationError.message}`.trim() : 'TLS handshake failed';
  if (authorizationError && (side === 'client' || requestCert)) {
    const why = `${authorizationError.code ?? ''} ${authorizationError.message}`.trim();
    return side === 'server' ? `TLS client certificate refused: ${why}` : why;
  }
  return undefined;
}
