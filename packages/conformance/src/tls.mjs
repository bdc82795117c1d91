// TLS for the conformance matrix's TLS rows: the suite makes a throwaway CA and certificates
// (test-utils' makeTestCerts) and names their directory in SKEIN_TLS_DIR, which the server and
// client fixtures, on any runtime, read here. Deno's WebSocket takes no CA option: the suite sets
// DENO_CERT to the CA instead, which Deno trusts for every TLS connection.
/** @import { TlsOptions } from '@skein/core' */
import { readFileSync } from 'node:fs';

/**
 * The fixture's TLS options: the server's certificate and key, or the CA a client trusts.
 * @param {'server' | 'client'} side
 * @param {'tcp' | 'ws'} kind the client's transport
 * @returns {TlsOptions | undefined}
 */
export function conformanceTls(side, kind = 'tcp') {
  const dir = process.env.SKEIN_TLS_DIR;
  if (!dir) throw new Error('a TLS row needs SKEIN_TLS_DIR (the suite sets it)');
  /** @param {string} name */
  const read = (name) => readFileSync(`${dir}/${name}`, 'utf8');
  if (side === 'server') return { cert: read('server.crt'), key: read('server.key') };
  const deno = typeof (/** @type {{ Deno?: unknown }} */ (globalThis).Deno) !== 'undefined';
  return kind === 'ws' && deno ? undefined : { ca: read('ca.crt') };
}
