import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TlsOptions } from '@skein/core';
import { afterAll, beforeAll } from 'vitest';

/** A certificate and its private key, PEM. */
export interface CertPair {
  readonly cert: string;
  readonly key: string;
}

/** Throwaway certificates for TLS tests, made by Debian's openssl (`.ci/run` installs it when missing). */
export interface TestCerts {
  /** The CA that signed everything below except `foreign`. PEM certificate. */
  readonly ca: string;
  /** For localhost: DNS:localhost, IP 127.0.0.1 and ::1. */
  readonly server: CertPair;
  /** A client: CN=test-client, SAN URI:spiffe://skein.test/client and DNS:client.skein.test. */
  readonly client: CertPair;
  /** Signed by `ca`, but valid only in 2020. */
  readonly expired: CertPair;
  /** A client certificate from another CA (`foreignCa`), which `ca` does not vouch for. */
  readonly foreign: CertPair;
  readonly foreignCa: string;
  /** A second server certificate from `ca` (CN=reloaded), for certificate reload. */
  readonly reloaded: CertPair;
  /** The directory the files are in (ca.crt, server.crt, server.key, client.crt, ...). */
  readonly dir: string;
  /** Deletes the directory. */
  remove(): void;
}

const EXTENSIONS = `
[server]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
[client]
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectAltName = URI:spiffe://skein.test/client, DNS:client.skein.test
`;

/**
 * How long the certificates made here are valid: past the 14 days within which a TLS listener
 * warns that its certificate expires (TlsOptions.expiryWarningMs), so that only the tests of
 * that warning see it.
 */
const VALID_DAYS = '30';

/** `openssl ca` wants a database and a config even for one certificate with chosen dates. */
const CA_CONFIG = (dir: string): string => `
[ca]
default_ca = test
[test]
database = ${dir}/index.txt
new_certs_dir = ${dir}
serial = ${dir}/serial
default_md = sha256
policy = any
copy_extensions = none
unique_subject = no
[any]
commonName = supplied
${EXTENSIONS}`;

/**
 * Makes a fresh CA, server and client certificates, an expired client certificate and one from
 * another CA, in a temp directory. EC P-256 keys: quick to make (a few ms each). Synchronous:
 * call it once per test file, in `beforeAll`.
 */
export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skein-certs-'));
  const file = (name: string): string => path.join(dir, name);
  const ssl = openssl(dir);
  writeFileSync(file('ext.cnf'), EXTENSIONS);
  writeFileSync(file('ca.cnf'), CA_CONFIG(dir));
  writeFileSync(file('index.txt'), '');
  writeFileSync(file('serial'), '1000\n');

  const makeCa = (name: string, cn: string): void =>
    ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', VALID_DAYS, '-subj', `/CN=${cn}`);

  makeCa('ca', 'Skein Test CA');
  makeCa('foreign-ca', 'Some Other CA');
  for (const [name, cn, ca, ext] of [
    ['server', 'localhost', 'ca', 'server'],
    ['reloaded', 'reloaded', 'ca', 'server'],
    ['client', 'test-client', 'ca', 'client'],
    ['foreign', 'test-client', 'foreign-ca', 'client'],
  ] as const) {
    request(ssl, name, cn);
    sign(ssl, name, ca, ext);
  }
  request(ssl, 'expired', 'test-client');
  // Only `openssl ca` signs with chosen dates (3.0's `x509 -req` has no -not_before).
  ssl('ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.crt', '-keyfile', 'ca.key', '-in', 'expired.csr', '-out', 'expired.crt', '-notext', '-startdate', '20200101000000Z', '-enddate', '20200102000000Z', '-extensions', 'client');

  const pair = (name: string): CertPair => readPair(dir, name);
  const read = (name: string): string => readFileSync(file(name), 'utf8');
  return {
    ca: read('ca.crt'),
    server: pair('server'),
    client: pair('client'),
    expired: pair('expired'),
    foreign: pair('foreign'),
    foreignCa: read('foreign-ca.crt'),
    reloaded: pair('reloaded'),
    dir,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Another client certificate from `certs.ca`, `CN=<cn>` (the SANs and usage of `client`), for a
 * test that needs a second identity the CA vouches for. Made in `certs.dir` (removed with it), so
 * call it once the certificates exist: in a test or hook with `suiteCerts()`. `cn` names its files.
 */
export function signClientCert(certs: TestCerts, cn: string): CertPair {
  const ssl = openssl(certs.dir);
  request(ssl, cn, cn);
  sign(ssl, cn, 'ca', 'client');
  return readPair(certs.dir, cn);
}

/**
 * A server certificate from `certs.ca` whose only name is `DNS:<name>` (not localhost, no IP):
 * for a test that a name is, or is not, checked. Made in `certs.dir`, as `signClientCert`.
 */
export function signServerCertFor(certs: TestCerts, name: string): CertPair {
  const ssl = openssl(certs.dir);
  writeFileSync(path.join(certs.dir, `${name}.cnf`), `[only]\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\nsubjectAltName = DNS:${name}\n`);
  request(ssl, name, name);
  ssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', VALID_DAYS, '-extfile', `${name}.cnf`, '-extensions', 'only');
  return readPair(certs.dir, name);
}

/**
 * A server certificate from `certs.ca` (localhost, as `server`), `CN=<name>`, valid from
 * `notBefore` to `notAfter` (whole seconds): expired, not yet valid, or about to expire, for
 * tests of what a server says of its certificate's dates. Made in `certs.dir`, as `signClientCert`.
 */
export function signServerCertDated(certs: TestCerts, name: string, notBefore: Date, notAfter: Date): CertPair {
  return signDated(certs, name, notBefore, notAfter, 'server');
}

/**
 * A client certificate from `certs.ca` (the SANs and usage of `client`), `CN=<name>`, valid from
 * `notBefore` to `notAfter`: for tests of what a client says of the certificate it presents
 * (mTLS). Made in `certs.dir`, as `signClientCert`.
 */
export function signClientCertDated(certs: TestCerts, name: string, notBefore: Date, notAfter: Date): CertPair {
  return signDated(certs, name, notBefore, notAfter, 'client');
}

function signDated(certs: TestCerts, name: string, notBefore: Date, notAfter: Date, ext: 'server' | 'client'): CertPair {
  const ssl = openssl(certs.dir);
  request(ssl, name, name);
  // Only `openssl ca` signs with chosen dates (3.0's `x509 -req` has no -not_before).
  const at = (d: Date): string => `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
  ssl('ca', '-batch', '-config', 'ca.cnf', '-cert', 'ca.crt', '-keyfile', 'ca.key', '-in', `${name}.csr`, '-out', `${name}.crt`, '-notext', '-startdate', at(notBefore), '-enddate', at(notAfter), '-extensions', ext);
  return readPair(certs.dir, name);
}

/**
 * `certs.<name>`'s key encrypted with the passphrase `secret` (PKCS#8, AES-256), as `openssl pkey
 * -aes256` writes it (`traditional`: as `openssl ec -aes256` does, with a Proc-Type header): a
 * key Skein has no option to decrypt. Made in `certs.dir`, as `signClientCert`.
 */
export function encryptedKeyOf(certs: TestCerts, name: 'server' | 'client', traditional = false): string {
  const out = `${name}-encrypted${traditional ? '-traditional' : ''}.key`;
  openssl(certs.dir)(traditional ? 'ec' : 'pkey', '-in', `${name}.key`, '-aes256', '-passout', 'pass:secret', '-out', out);
  return readFileSync(path.join(certs.dir, out), 'utf8');
}

type OpenSsl = (...args: string[]) => void;

/** Debian's openssl run in `dir`; what it says on stderr is in the error it throws. */
function openssl(dir: string): OpenSsl {
  return (...args) => void execFileSync('/usr/bin/openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A fresh P-256 key `<name>.key` and a request `<name>.csr` for `CN=<cn>`. */
function request(ssl: OpenSsl, name: string, cn: string): void {
  ssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
}

/** `<name>.csr` signed by the CA `<ca>.crt`/`<ca>.key` into `<name>.crt`, for VALID_DAYS days, with ext.cnf's `[ext]`. */
function sign(ssl: OpenSsl, name: string, ca: string, ext: 'server' | 'client'): void {
  ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', VALID_DAYS, '-extfile', 'ext.cnf', '-extensions', ext);
}

function readPair(dir: string, name: string): CertPair {
  const read = (file: string): string => readFileSync(path.join(dir, file), 'utf8');
  return { cert: read(`${name}.crt`), key: read(`${name}.key`) };
}

/**
 * Certificates for one test file: made in `beforeAll`, removed in `afterAll`. Read them inside
 * tests (or hooks), not at collection: until `beforeAll` has run they do not exist.
 */
export function suiteCerts(): TestCerts {
  let made: TestCerts | undefined;
  beforeAll(() => void (made = makeTestCerts()));
  afterAll(() => made?.remove());
  const get = (): TestCerts => made ?? raise();
  return {
    get ca() { return get().ca; },
    get server() { return get().server; },
    get client() { return get().client; },
    get expired() { return get().expired; },
    get foreign() { return get().foreign; },
    get foreignCa() { return get().foreignCa; },
    get reloaded() { return get().reloaded; },
    get dir() { return get().dir; },
    remove: () => get().remove(),
  };
}

function raise(): never {
  throw new Error('suiteCerts: the certificates are made in beforeAll; read them inside a test or hook');
}

/**
 * `base` with `extra` on top, typed as what it holds: PEM strings, so that the options also go to
 * node:tls, https and ws as they are (Skein's `Pem` may be bytes, which their `Buffer` is not).
 */
export type Over<Base, Extra> = Omit<Base, keyof Extra> & Extra;
type ServerPems = { cert: string; key: string };

/** The TLS options tests build over `TestCerts`, each with `extra` on top. */
export interface TestTls {
  /** A server with `server`'s certificate (localhost, 127.0.0.1, ::1). */
  serverTls<E extends TlsOptions = {}>(extra?: E): Over<ServerPems, NoInfer<E>>;
  /** A server as `serverTls` that asks every client for a certificate from `ca` (mutual TLS). */
  mtls<E extends TlsOptions = {}>(extra?: E): Over<ServerPems & { ca: string; requestCert: true }, NoInfer<E>>;
  /**
   * A client that trusts `ca` and expects the name localhost, whatever address it dials; with a
   * certificate for mTLS: `clientTls(certs.client)`.
   */
  clientTls<E extends TlsOptions = {}>(extra?: E): Over<{ ca: string; servername: 'localhost' }, NoInfer<E>>;
}

/**
 * The TLS options of a test's server and client over `certs`, read when called: with
 * `suiteCerts()` that is inside a test or hook, once they exist.
 */
export function testTls(certs: TestCerts): TestTls {
  const over = <B, E>(base: B, extra: E | undefined): Over<B, E> => ({ ...base, ...(extra as E) });
  const server = (): ServerPems => ({ cert: certs.server.cert, key: certs.server.key });
  return {
    serverTls: (extra) => over(server(), extra),
    mtls: (extra) => over({ ...server(), ca: certs.ca, requestCert: true as const }, extra),
    clientTls: (extra) => over({ ca: certs.ca, servername: 'localhost' as const }, extra),
  };
}
