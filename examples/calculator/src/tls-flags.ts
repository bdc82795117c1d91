import { readFileSync } from 'node:fs';
import type { TlsOptions } from '@skein/core';

/** The demo's TLS flags: PEM file paths. */
export interface TlsFlags {
  'tls-cert'?: string;
  'tls-key'?: string;
  'tls-ca'?: string;
  'tls-servername'?: string;
}

const read = (file: string | undefined): string | undefined => (file === undefined ? undefined : readFileSync(file, 'utf8'));

/**
 * TlsOptions from the flags, or undefined without any. Serving: --tls-cert and --tls-key are the
 * server's, and --tls-ca turns on mTLS (clients need a certificate from that CA). Connecting:
 * --tls-ca is the CA to trust instead of the system's, --tls-cert and --tls-key the client
 * certificate to show a server that asks.
 */
export function tlsFromFlags(flags: TlsFlags, side: 'serve' | 'connect'): TlsOptions | undefined {
  const cert = read(flags['tls-cert']);
  const key = read(flags['tls-key']);
  const ca = read(flags['tls-ca']);
  if (cert === undefined && key === undefined && ca === undefined) return undefined;
  return {
    ...(cert !== undefined && { cert }),
    ...(key !== undefined && { key }),
    ...(ca !== undefined && { ca }),
    ...(side === 'serve' && ca !== undefined && { requestCert: true }),
    ...(side === 'connect' && flags['tls-servername'] !== undefined && { servername: flags['tls-servername'] }),
  };
}
