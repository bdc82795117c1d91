import { CertificateExpiryWatch, DEFAULT_CONNECT_TIMEOUT_MS, formatAddress, invalidArgument, parseAddress, reloadedTransportTls, warnOfClientCertificate, type Address, type FrameConn, type FrameListener, type FrameSpec, type TlsOptions, type Transport } from '@skein/core';
import type { ResolvedOptions } from './options.js';
import { wsClientTls } from './tls.js';
import { connectClient } from './ws-client.js';
import { loadCertAndKey } from './wss-handshake.js';

/** A listener that can change its TLS certificate (a wss server); without `reloadTls` it cannot. */
export interface ReloadableListener extends FrameListener {
  reloadTls?(tls: TlsOptions): Promise<void>;
}

/** A server on `address` serving `tls` (the transport's options when the listen was called: a reload applied while it opens is given to it after). */
export type Listen = (address: Address, spec: FrameSpec, accept: (conn: FrameConn) => void, tls: TlsOptions | undefined) => Promise<ReloadableListener>;

/** A Transport whose client is the shared WebSocket client and whose server is `listen`. */
export function transportOf(name: string, options: ResolvedOptions, listen: Listen): Transport {
  // Each with the watch on its certificate's expiry (core's CertificateExpiryWatch), from its listen to its close.
  const secureListeners = new Map<ReloadableListener, CertificateExpiryWatch>();
  /** The reloads called so far, settled or not: the next one starts after them. */
  let reloads: Promise<void> = Promise.resolve();
  /**
   * One reload, after those before it: it merges over what they applied (one that read the
   * options while another was under way would drop its fields). Checked as a connect's always,
   * and its certificate and key loaded as one (with no listener nothing else would load a key
   * that is not the certificate's, and the next connect would fail instead); as a listener's
   * while one is open. A failure changes nothing.
   */
  async function reload(tls: TlsOptions, next: TlsOptions): Promise<void> {
    const reloaded = reloadedTransportTls(tls, next, secureListeners.size > 0);
    loadCertAndKey(wsClientTls(reloaded) as { cert?: string; key?: string });
    for (const l of secureListeners.keys()) {
      if (!l.reloadTls) throw invalidArgument(`reloadTls: the ${name} server cannot change its certificate while listening`);
      await l.reloadTls(next);
    }
    options.tls = reloaded;
    for (const expiry of secureListeners.values()) expiry.serving(options.tls);
  }
  /** `step` once the reloads called before it have settled; the next waits for it, settled either way. */
  function inTurn(step: () => Promise<void>): Promise<void> {
    const run = reloads.then(step);
    reloads = run.catch(() => {});
    return run;
  }
  /**
   * `l`, opened with options a reload has replaced since (it found no such listener), given the
   * certificate, key and CA the transport holds now, unless it closed meanwhile.
   */
  async function catchUp(l: ReloadableListener): Promise<void> {
    const expiry = secureListeners.get(l);
    if (expiry === undefined || options.tls === undefined) return;
    if (!l.reloadTls) throw invalidArgument(`reloadTls: the ${name} server cannot change its certificate while listening`);
    const tls = options.tls;
    await l.reloadTls(tls);
    expiry.serving(tls);
  }
  const transport: Transport = {
    name,
    // Async, and the address checked first: a malformed one rejects with InvalidArgument, never a
    // URL's SyntaxError (thrown before the promise, by the standard WebSocket's constructor).
    async connect(address, spec, o) {
      const at = parseAddress(address);
      // A client certificate (mTLS) near its date is warned of through the client's logger, else
      // the transport's own: once per options object (core's warnOfClientCertificate), not per connect.
      warnOfClientCertificate(options.tls, o?.logger ?? options.logger);
      return connectClient(at, spec, options, o?.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, o?.signal);
    },
    async listen(address, spec, accept, o) {
      const listenedWith = options.tls;
      const l = await listen(address, spec, accept, listenedWith);
      if (listenedWith === undefined) return l;
      // The server's logger, else the transport's own.
      const expiry = new CertificateExpiryWatch(formatAddress(l.address), o?.logger ?? options.logger);
      secureListeners.set(l, expiry);
      expiry.serving(listenedWith);
      const close = (): Promise<void> => (expiry.stop(), secureListeners.delete(l), l.close());
      // A reload applied while it opened found no such listener: given it now, in turn with the
      // reloads, or the listener closed and the listen refused (it would serve the old certificate).
      if (options.tls !== listenedWith) {
        await inTurn(() => catchUp(l)).catch(async (err: unknown) => {
          await close();
          throw err;
        });
      }
      return { address: l.address, close };
    },
    reloadTls(next) {
      return inTurn(() => {
        if (options.tls === undefined) throw invalidArgument('reloadTls: this transport was made without tls options');
        return reload(options.tls, next);
      });
    },
  };
  return transport;
}
