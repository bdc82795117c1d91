// TLS for the conformance matrix's TLS rows: the suite makes a throwaway CA and certificates
// (test-utils' makeTestCerts) and names their directory in SKEIN_TLS_DIR, which the server and
// client fixtures, on any runtime, read here. Every client takes the CA as its `tls.ca` (Deno's
// ws client is `ws`, over node:tls, not Deno's WebSocket, which takes none).
/** @import { TlsOptions } from '@skein/core' */
import { readFileSync } from 'node:fs';

/**
 * The fixture's TLS options: the server's certificate and key, or the CA a client trusts.
 * @param {'server' | 'client'} side
 * @returns {TlsOptions}
 */
export function conformanceTls(side) {
  const dir = process.env.SKEIN_TLS_DIR;
  if (!dir) throw new Error('a TLS row needs SKEIN_TLS_DIR (the suite sets it)');
  /** @param {string} name */
  const read = (name) => readFileSync(`${dir}/${name}`, 'utf8');
  if (side === 'server') return { cert: read('server.crt'), key: read('server.key') };
  return { ca: read('ca.crt') };
}
