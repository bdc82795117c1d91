import { connectTlsOptions, TransportTls, warnOfClientCertificate, type Address, type Logger, type Runtime, type TlsOptions } from '@skein/core';

/**
 * A transport's TLS options, and the listeners they serve (core's TransportTls: `reload`,
 * `listening`, `closed`). A connection is TLS when the address says so (`tls://`) or the
 * transport was given options. What TCP adds: the options for a connect and a listen, and a
 * reload's pair loaded by the runtime's Runtime.loadConnectTls, where it has one.
 * The client certificate is watched as connects present it (core's warnOfClientCertificate).
 */
export class TlsSettings extends TransportTls {
  constructor(options: TlsOptions | undefined, runtime: Pick<Runtime, 'loadConnectTls'>) {
    super({ tls: options }, {
      loadPair: (pair) => runtime.loadConnectTls?.(connectTlsOptions(pair)),
      cannotChange: 'this runtime cannot change a TLS listener\'s certificate',
    });
  }

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
}
