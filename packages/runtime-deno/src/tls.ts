import { invalidArgument, listenFailed, loadPairOnTrialListener, reloadedTls, resolveTls, unusableTls, type Address, type ResolvedTls, type TlsOptions } from '@skein/core';
import type { DenoApi, DenoConnectTlsOptions, DenoListenTlsOptions, DenoListener } from './native-api.js';
import { isPermissionError } from './permission-error.js';
import { describe } from './socket-address.js';

declare const Deno: DenoApi;

/**
 * Deno's TLS (rustls) does less than OpenSSL's: no client certificates on a listener, no minimum
 * version (it speaks 1.2 and 1.3), TCP only, and no peer certificate to read. What it cannot do
 * is refused here with InvalidArgument, before anything is opened.
 */
export function denoListenTls(address: Address, tls: TlsOptions): ResolvedTls {
  const s = resolveTls(tls, 'listen');
  if (s.requestCert) throw invalidArgument('tls.requestCert: Deno.listenTls cannot ask for client certificates (no mTLS on a Deno server; use Node or Bun)');
  return checkCommon(address, s);
}

export function denoConnectTls(address: Address, tls: TlsOptions): ResolvedTls {
  return checkCommon(address, resolveTls(tls, 'connect'));
}

/**
 * What a listener on `host` serves after `reloadTls(next)`, loaded once on a port of its own
 * (closed at once) before the listener is touched: a certificate rustls will not load is
 * InvalidArgument, and the listener keeps serving the one it has.
 */
export function denoReloadTls(listening: TlsOptions, next: TlsOptions, host: string): ResolvedTls {
  const settings = reloadedTls(listening, next);
  tryListening(host, settings);
  return settings;
}

/**
 * Runtime.loadConnectTls: a client certificate and key loaded by rustls as a listener's reload
 * loads them (tryListening, on loopback; core's loadPairOnTrialListener), so that a key that is
 * not the certificate's is the same InvalidArgument.
 */
export async function loadConnectTls(tls: TlsOptions): Promise<void> {
  loadPairOnTrialListener(resolveTls(tls, 'connect'), (pair) => tryListening('127.0.0.1', resolveTls(pair, 'listen')));
}

/** `settings` loaded by rustls on a port of its own on `host`, closed at once: what rustls will not load is InvalidArgument. */
function tryListening(host: string, settings: ResolvedTls): void {
  let trial: DenoListener;
  try {
    trial = Deno.listenTls(listenOptions({ host, port: 0 }, settings));
  } catch (err) {
    // Deno's OS errors say "(os error N)"; rustls's (InvalidData, KeyMismatch) are the certificate's.
    const why = describe(err);
    if (/\(os error \d+\)/.test(why) || isPermissionError(err)) throw listenFailed(`${host}:0`, `cannot try the new certificate: ${why}`, err);
    throw unusableTls(why, err);
  }
  trial.close();
}

function checkCommon(address: Address, s: ResolvedTls): ResolvedTls {
  if ('path' in address) throw invalidArgument(`TLS on a Unix socket (${address.path}): Deno's TLS runs over TCP only`);
  if (s.minVersion !== 'TLSv1.2') throw invalidArgument("tls.minVersion: Deno's TLS cannot be limited to TLS 1.3");
  return s;
}

export function listenOptions(address: { host: string; port: number }, s: ResolvedTls): DenoListenTlsOptions {
  return { transport: 'tcp', hostname: address.host, port: address.port, cert: s.cert!, key: s.key!, ...(s.alpn !== undefined && { alpnProtocols: [s.alpn] }) };
}

/**
 * Options for Deno.connectTls, or for Deno.startTls when the server's name is not the host
 * dialled (connectTls checks the certificate against the host it dials; startTls takes the
 * name, but no client certificate).
 */
export function connectOptions(address: { host: string; port: number }, s: ResolvedTls): { start: boolean; options: DenoConnectTlsOptions } {
  const start = s.servername !== undefined && s.servername !== address.host;
  if (start && s.cert !== undefined) {
    throw invalidArgument(`tls.servername ${s.servername} with a client certificate: Deno checks the server against the host it dials (${address.host}); dial ${s.servername} instead`);
  }
  const options: DenoConnectTlsOptions = {
    hostname: start ? s.servername! : address.host,
    port: address.port,
    ...(s.ca !== undefined && { caCerts: s.ca }),
    ...(s.alpn !== undefined && { alpnProtocols: [s.alpn] }),
    ...(s.cert !== undefined && { cert: s.cert, key: s.key! }),
  };
  return { start, options };
}
