import { connectTlsOptions, invalidArgument, reloadedTransportTls, warnOfClientCertificate, type Address, type ByteListener, type CertificateExpiryWatch, type Logger, type TlsOptions } from '@skein/core';

/**
 * A transport's TLS options, and the listeners they serve. A connection is TLS when the address
 * says so (`tls://`) or the transport was given options; `reload` swaps the certificate, key
 * and CA of every open TLS listener, and of later connects (a client-only transport's too).
 * Each listener's certificate is watched for its expiry (core's CertificateExpiryWatch) from its
 * listen to its close; the client certificate, as connects present it (core's
 * warnOfClientCertificate).
 */
export class TlsSettings {
  private readonly listeners = new Map<ByteListener, CertificateExpiryWatch>();

  constructor(private options: TlsOptions | undefined) {}

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

  listening(listener: ByteListener, expiry: CertificateExpiryWatch): void {
    this.listeners.set(listener, expiry);
    expiry.serving(this.options ?? {});
  }

  closed(listener: ByteListener): void {
    this.listeners.get(listener)?.stop();
    this.listeners.delete(listener);
  }

  async reload(next: TlsOptions): Promise<void> {
    if (this.options === undefined) throw invalidArgument('reloadTls: this transport was made without tls options');
    // Checked before any listener changes, for connects always and for listeners while any is
    // open (a client-only transport rotates its client certificate or CA): a bad certificate
    // leaves every listener, and later connects, as they were.
    const reloaded = reloadedTransportTls(this.options, next, this.listeners.size > 0);
    for (const l of this.listeners.keys()) {
      if (!l.reloadTls) throw invalidArgument('reloadTls: this runtime cannot change a TLS listener\'s certificate');
      await l.reloadTls(next);
    }
    this.options = reloaded;
    for (const expiry of this.listeners.values()) expiry.serving(this.options);
  }
}
