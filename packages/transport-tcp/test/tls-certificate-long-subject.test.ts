import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeRuntime } from '@skein/runtime-node';
import { cleanups, memoryLogger, suiteCerts } from '@skein/test-utils';
import { tcpTransport } from '../src/index.js';
import { spec } from './spec.js';

const certs = suiteCerts();
const cleanup = cleanups();

/**
 * A self-signed certificate, valid for a day, whose subject holds a 200 KB PrintableString
 * (an attribute of a private OID, which OpenSSL bounds by no upper length): OpenSSL makes and
 * loads it, so a listener served it before the expiry watch existed.
 */
function longSubjectCert(): { cert: string; key: string } {
  const config = path.join(certs.dir, 'long-subject.cnf');
  // `nombstr`: PrintableString, the expiry reader's Latin-1 path; `1.` is OpenSSL's prefix for a repeated field name.
  writeFileSync(config, `[req]\ndistinguished_name=dn\nprompt=no\nstring_mask=nombstr\n[dn]\nCN=long-subject\n1.1.3.6.1.4.1.55555.1=${'A'.repeat(200_000)}\n`);
  execFileSync('/usr/bin/openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'long-subject.key', '-out', 'long-subject.crt', '-days', '1', '-config', config], { cwd: certs.dir, stdio: 'ignore' });
  return { cert: readFileSync(path.join(certs.dir, 'long-subject.crt'), 'utf8'), key: readFileSync(path.join(certs.dir, 'long-subject.key'), 'utf8') };
}

const expiring = /^TLS certificate CN=long-subject,1\.3\.6\.1\.4\.1\.55555\.1=A{200000} expires at \S+Z, in \d+ hours: renew it and reloadTls$/;

describe('the expiry watch reads a certificate with a 200 KB subject attribute', () => {
  // Made at the first test: suiteCerts' files exist only once the suite runs.
  let made: { cert: string; key: string } | undefined;
  const big = (): { cert: string; key: string } => (made ??= longSubjectCert());

  it('listen serves it and warns (a RangeError out of listen, before)', async () => {
    const logger = memoryLogger();
    const listener = await tcpTransport(nodeRuntime, { tls: big() }).listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => conn.close(), { logger });
    cleanup.push(() => listener.close());
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([expect.stringMatching(expiring)]);
  });

  it('reloadTls to it resolves and warns (a RangeError after the swap, before)', async () => {
    const logger = memoryLogger();
    const transport = tcpTransport(nodeRuntime, { tls: { ...certs.server } });
    const listener = await transport.listen({ host: '127.0.0.1', port: 0 }, spec, (conn) => conn.close(), { logger });
    cleanup.push(() => listener.close());
    await transport.reloadTls(big());
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([expect.stringMatching(expiring)]);
  });
});
