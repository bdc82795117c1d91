import { connectTlsOptions, invalidArgument, reloadedTransportTls, warnOfClientCertificate, type Address, type ByteListener, type CertificateExpiryWatch, type Logger, type TlsOptions } from '@skein/core';

/**
 * A transport's TLS options, and the listeners they serve. A connection is TLS when the address
 * says so (`tls://`) or the transport was given options; `reload` swaps the certificate, key
 * and CA of every open TLS listener, and of later connects (a client-only transport's too),
 * one reload after the other in call order.
 * Each listener's certificate is watched for its expiry (core's CertificateExpiryWatch) from its
 * listen to its close; the client certificate, as connects present it (core's
 * warnOfClientCertificate).
 */
export class TlsSettings {
  private readonly listeners = new Map<ByteListener, CertificateExpiryWatch>();
  /** The reloads called so far, settled or not: the next one starts after them. */
  private reloads: Promise<void> = Promise.resolve();

  constructor(
    private options: TlsOptions | undefined,
    /** The runtime's Runtime.loadConnectTls, where it has one. */
    private readonly loadConnectTls?: (tls: TlsOptions) => Promise<void>,
  ) {}

  /**
   * Options for a connect: the listener-only ones left out, so one transport may serve and dial.
   * Its client certificate is warned of through `logger` when it nears its date: the check is
   * keyed by the options this transport holds (the copy made here is new at every connect).
   */
  forConnect(address: Address, logger: Logger | undefined): TlsOptions | undefined {
    if (this.options === undefined) return address.tls ? {} : undefined;
    warnOfClientCertificate(this.options, logger);
    return connectTlsOptions(this.options);
  }

  /** Whether listeners ask clients for certificates (mTLS) now. */
  requestsCerts(): boolean {
    return this.options?.requestCert === true;
  }

  forListen(address: Address): TlsOptions | undefined {
    return this.options ?? (address.tls ? {} : undefined);
  }

  /**
   * A listener opened with `listenedWith` (what forListen gave it), watched from now on. A reload
   * applied while it opened found no such listener: it is given the options applied since, in
   * turn with the reloads, before its listen resolves (it would serve the old certificate, its
   * expiry watched as the new one's). Rejects, the listener left to close, if it cannot take them.
   */
  async listening(listener: ByteListener, expiry: CertificateExpiryWatch, listenedWith: TlsOptions): Promise<void> {
    this.listeners.set(listener, expiry);
    expiry.serving(listenedWith);
    if (this.options !== undefined && this.options !== listenedWith) await this.inTurn(() => this.catchUp(listener));
  }

  closed(listener: ByteListener): void {
    this.listeners.get(listener)?.stop();
    this.listeners.delete(listener);
  }

  /**
   * Runs after the reloads called before it have settled, so that each merges over what the one
   * before applied (one that read the options while another was under way would drop its
   * fields); a failed one leaves the options as they were and holds up none after it.
   */
  reload(next: TlsOptions): Promise<void> {
    return this.inTurn(() => this.apply(next));
  }

  /** `step` once the reloads called before it have settled; the next waits for it, settled either way. */
  private inTurn(step: () => Promise<void>): Promise<void> {
    const run = this.reloads.then(step);
    this.reloads = run.catch(() => {});
    return run;
  }

  /** `listener` given the certificate, key and CA the transport holds now, unless it closed meanwhile. */
  private async catchUp(listener: ByteListener): Promise<void> {
    const expiry = this.listeners.get(listener);
    if (expiry === undefined || this.options === undefined) return;
    if (!listener.reloadTls) throw invalidArgument('reloadTls: this runtime cannot change a TLS listener\'s certificate');
    const options = this.options;
    await listener.reloadTls(options);
    expiry.serving(options);
  }

  private async apply(next: TlsOptions): Promise<void> {
    if (this.options === undefined) throw invalidArgument('reloadTls: this transport was made without tls options');
    // Checked before any listener changes, for connects always and for listeners while any is
    // open (a client-only transport rotates its client certificate or CA): a bad certificate
    // leaves every listener, and later connects, as they were. Loaded as a connect's too, where
    // the runtime can: with no listener nothing else would load a key that is not the
    // certificate's, and the next connect would fail instead.
    const reloaded = reloadedTransportTls(this.options, next, this.listeners.size > 0);
    await this.loadConnectTls?.(connectTlsOptions(reloaded));
    for (const l of this.listeners.keys()) {
      if (!l.reloadTls) throw invalidArgument('reloadTls: this runtime cannot change a TLS listener\'s certificate');
      await l.reloadTls(next);
    }
    this.options = reloaded;
    for (const expiry of this.listeners.values()) expiry.serving(this.options);
  }
}
