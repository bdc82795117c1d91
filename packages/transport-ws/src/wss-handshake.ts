import tls from 'node:tls';
import { RpcError, connectFailed, sniName, tlsCloseError, type TlsOptions } from '@skein/core';
import { loadingTls } from './tls.js';

/**
 * The TLS connect of one wss:// connect with `ws` (its `createConnection`), and how its failure
 * reads. It connects as ws does (SNI for host names only: core's sniName) and notes when the
 * handshake is done with a server that asked for a client certificate: one that refuses ours
 * after its handshake (Node's, Bun's: without an alert) closes before it answers the upgrade,
 * and only a client that knows that much can read that close as the refusal it probably is.
 */
export class WssHandshake {
  /** The handshake is done and the server asked for a client certificate (it may refuse ours). */
  private certAsked = false;

  constructor(private readonly tls: TlsOptions | undefined) {}

  readonly connect = (options: tls.ConnectionOptions & { host?: string }): tls.TLSSocket => {
    // `path` is ws's URL path, which tls.connect would take for a Unix socket (ws clears it too).
    const socket = tls.connect({ ...options, path: undefined, servername: sniName(options.host, this.tls ?? {}) ?? '' });
    // Only a server that sent a CertificateRequest has a signature algorithm shared with us (the
    // client learns the server's from that message alone): one that asked for none, closing
    // (Bun's at its connection cap, at the upgrade), refused no certificate.
    // Deno's node:tls (2.9) has no getSharedSigalgs: there a refusal after the handshake reads as
    // Unreachable, as one by a server that asked for no certificate does.
    socket.once('secureConnect', () => (this.certAsked = typeof socket.getSharedSigalgs === 'function' && socket.getSharedSigalgs().length > 0));
    return socket;
  };

  /** Why the connect failed, typed as on TCP (core's tlsCloseError); anything else is Unreachable. */
  failure(url: string, err: Error): RpcError {
    const typed = tlsCloseError(url, err, false, this.certAsked && this.tls?.cert !== undefined);
    return typed instanceof RpcError ? typed : connectFailed(url, err.message, err);
  }
}

/**
 * Loads a certificate and key as OpenSSL will in the handshake (the ws client under Node, and
 * uWS's SSLApp, which says only "App construction failed"): a key that is not the certificate's
 * is InvalidArgument before anything is dialled or bound, as on TCP, not a failed handshake
 * (Unreachable) or an untyped Error. Deno's node:tls loads nothing here; its handshake refuses.
 */
export function loadCertAndKey(s: { readonly cert?: string | undefined; readonly key?: string | undefined }): void {
  if (s.cert === undefined) return;
  loadingTls(() => tls.createSecureContext({ cert: s.cert, key: s.key }));
}

/** The transports' TLS options whose certificate and key have loaded once (loadCertAndKey). */
const pairsLoaded = new WeakSet<TlsOptions>();

/**
 * Loads the client's certificate and key (`clientTls`, what `wsClientTls` made of `tls`) once per
 * transport's options, not per connect: each load is an OpenSSL context (~0.9 ms with a 2048-bit
 * RSA key), which the handshake makes again. A reload with no listener open that loads the pair
 * itself loads its options so before they apply (TransportTls), and its connects after find them
 * loaded; with such listeners open, the first connect after it loads them, once.
 */
export function loadClientPairOnce(tls: TlsOptions | undefined, clientTls: Record<string, unknown>): void {
  if (tls === undefined || pairsLoaded.has(tls)) return;
  loadCertAndKey(clientTls as { cert?: string; key?: string });
  pairsLoaded.add(tls);
}
