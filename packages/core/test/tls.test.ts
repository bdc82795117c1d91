import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError, identityOf, reloadedTls, reloadedTransportTls, resolveTls, sniName, tlsCloseError, tlsFailure, type TlsOptions } from '../src/index.js';

const invalid = (f: () => unknown): string => {
  try {
    f();
    return 'accepted';
  } catch (e) {
    return RpcError.is(e, ErrorCode.InvalidArgument) ? 'InvalidArgument' : String(e);
  }
};

/**
 * Enough of a PEM CA for resolveTls, which checks its structure only (the runtime parses it): a
 * SEQUENCE of a tbsCertificate (serial 1, five empty SEQUENCEs), an empty SEQUENCE and a BIT STRING.
 */
const A = '-----BEGIN CERTIFICATE-----\nMBQwDQIBATAAMAAwADAAMAAwAAMBAA==\n-----END CERTIFICATE-----\n';
const pem = (body: string): string => `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
/** A private key's PEM block, enough for resolveTls (the runtime loads it). */
const KEY = '-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n';
const der = (hex: string): string => pem(btoa(String.fromCharCode(...(hex.match(/../g) ?? []).map((h) => parseInt(h, 16)))));

describe('resolveTls', () => {
  it('fills in the defaults, reads PEM bytes and a single CA', () => {
    const s = resolveTls({ cert: new TextEncoder().encode(A), key: KEY, ca: A }, 'listen');
    expect(s).toEqual({ cert: A, key: KEY, ca: [A], servername: undefined, alpn: 'skein', minVersion: 'TLSv1.2', requestCert: false, handshakeTimeoutMs: 10_000 });
    expect(resolveTls({ alpn: false }, 'connect').alpn).toBeUndefined();
  });

  it.each<[string, TlsOptions, 'connect' | 'listen']>([
    ['a listener without a certificate', {}, 'listen'],
    ['requestCert without a CA', { cert: A, key: KEY, requestCert: true }, 'listen'],
    ['requestCert on a connect', { requestCert: true }, 'connect'],
    ['servername on a listener', { cert: A, key: KEY, servername: 'x' }, 'listen'],
    ['a certificate without its key', { cert: A }, 'connect'],
    ['an unknown minVersion', { minVersion: 'TLSv1' as 'TLSv1.2' }, 'connect'],
    ['an empty ALPN id', { alpn: '' }, 'connect'],
    ['a zero handshake timeout', { handshakeTimeoutMs: 0 }, 'connect'],
    // Node's OpenSSL would load it as no CA at all, silently: every client refused after a reload.
    ['a CA with no PEM certificate in it', { cert: A, key: KEY, ca: 'not PEM', requestCert: true }, 'listen'],
    ['one CA of several with no certificate in it', { ca: [A, ''] }, 'connect'],
    ['an empty CA list (OpenSSL would trust nothing)', { ca: [] }, 'connect'],
    // Node reads it, but Bun (BoringSSL) and Deno (rustls) load none of it, silently: refused everywhere.
    ['a CA as TRUSTED CERTIFICATE (openssl x509 -trustout)', { ca: '-----BEGIN TRUSTED CERTIFICATE-----\nA\n-----END TRUSTED CERTIFICATE-----\n' }, 'connect'],
  ])('refuses %s with InvalidArgument', (_, tls, side) => {
    expect(invalid(() => resolveTls(tls, side))).toBe('InvalidArgument');
  });

  it.each<[string, string, RegExp]>([
    ['a body that is not base64', pem('not base64'), /: tls\.ca: certificate 1 of 1 \(line 1\) is not base64/],
    ['base64 with a character that is not', pem('MBQwDQIBATAAMAAwADAAMAAwAAMBA!=='), /certificate 1 of 1 \(line 1\) is not base64/],
    ['a block with no END line', A + '-----BEGIN CERTIFICATE-----\nMBQw\n', /certificate 2 of 2 \(line 4\) has no -----END CERTIFICATE----- line/],
    ['a certificate cut short', der('3014300d020101300030003000300030'), /certificate 1 of 1 .* longer than what holds it/],
    ['bytes after the certificate', der('3014300d0201013000300030003000300030000301000000'), /2 bytes after its end/],
    ['no SEQUENCE at the start', der('3114300d020101300030003000300030003000030100'), /does not start with a SEQUENCE/],
    ['a damaged field tag (the serial is no INTEGER)', der('3014300d040101300030003000300030003000030100'), /fields are not those of a certificate/],
    ['two parts instead of three', der('3011300d020101300030003000300030003000'), /not the three parts of a certificate/],
    ['an indefinite length (not DER)', der('3080300d020101300030003000300030003000030100'), /a bad length/],
    ['a good certificate, then a damaged one', A + '\n' + pem('QQ=='), /certificate 2 of 2 \(line 5\)/],
    // OpenSSL reads PEM by lines: a marker not alone on its line is none, and the block is skipped.
    ['a block glued to the END before it (cat of a file without a final newline)', A.trimEnd() + A, /certificate 1 of 2 \(line 1\) is skipped by TLS libraries: its -----END CERTIFICATE----- is not alone/],
    ['an indented block', A + '  ' + A, /certificate 2 of 2 \(line 4\) is skipped by TLS libraries: its -----BEGIN CERTIFICATE----- is not alone/],
    ['a body glued to its BEGIN', A.replace('-----\n', '-----'), /certificate 1 of 1 \(line 1\) .*-----BEGIN CERTIFICATE----- is not alone/],
    ['text after an END', A.replace('-----END CERTIFICATE-----\n', '-----END CERTIFICATE----- # end\n'), /certificate 1 of 1 .*-----END CERTIFICATE----- is not alone/],
  ])('refuses a CA holding %s with InvalidArgument naming the certificate', (_, ca, why) => {
    expect(() => resolveTls({ ca }, 'connect')).toThrow(why);
    expect(invalid(() => resolveTls({ ca }, 'connect'))).toBe('InvalidArgument');
    // One of several is named by its place.
    expect(() => resolveTls({ ca: [A, ca] }, 'connect')).toThrow(/^tls: cannot use .*: tls\.ca\[1\]: certificate/);
  });

  it('takes a bundle of certificates with comments, blank lines and CRLF between and inside them', () => {
    const bundle = `# Root 1\r\n${A.replace(/\n/g, '\r\n')}\r\n\r\n# Root 2\n  \n${pem('MBQwDQIB\nATAAMAAw\n  ADAAMAAwAAMBAA==')}# the end\n`;
    expect(resolveTls({ ca: bundle }, 'connect').ca).toEqual([bundle]);
    // Whitespace after a marker, and a byte order mark, are what OpenSSL reads past too.
    const spaced = `\ufeff${A.replace(/-----\n/g, '-----  \t\n')}`;
    expect(resolveTls({ ca: spaced }, 'connect').ca).toEqual([spaced]);
    // A v1 certificate has no [0] version, a v3 one has it and extensions ([3]) after the key.
    expect(invalid(() => resolveTls({ ca: der('301b3014a00302010202010130003000300030003000a3003000030100') }, 'connect'))).toBe('accepted');
  });

  // Real files made by openssl are used in runtime-node's tls.test.ts and the CLI's; here, the words.
  it.each<[string, TlsOptions, RegExp]>([
    ['a key as the certificate', { cert: '-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n', key: KEY }, /: tls\.cert holds a PRIVATE KEY, not a CERTIFICATE$/],
    ['an RSA key as the certificate', { cert: '-----BEGIN RSA PRIVATE KEY-----\nAA==\n-----END RSA PRIVATE KEY-----\n', key: KEY }, /: tls\.cert holds an RSA PRIVATE KEY, not a CERTIFICATE$/],
    ['a request as the certificate', { cert: '-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----\n', key: KEY }, /: tls\.cert holds a CERTIFICATE REQUEST, not a CERTIFICATE$/],
    ['the certificate as the key', { cert: A, key: A }, /: tls\.key holds a CERTIFICATE, not a PRIVATE KEY$/],
    ['a public key as the key', { cert: A, key: '-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n' }, /: tls\.key holds a PUBLIC KEY, not a PRIVATE KEY$/],
    ['both swapped', { cert: '-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n', key: A }, /: tls\.cert holds an EC PRIVATE KEY, not a CERTIFICATE \(tls\.cert and tls\.key swapped\?\)$/],
  ])('refuses %s with InvalidArgument naming the option and what it holds', (_, tls, why) => {
    expect(() => resolveTls(tls, 'connect')).toThrow(why);
    expect(invalid(() => resolveTls(tls, 'connect'))).toBe('InvalidArgument');
  });

  it('takes a key file with EC PARAMETERS before its key', () => {
    const key = '-----BEGIN EC PARAMETERS-----\nAA==\n-----END EC PARAMETERS-----\n-----BEGIN EC PRIVATE KEY-----\nAA==\n-----END EC PRIVATE KEY-----\n';
    expect(invalid(() => resolveTls({ cert: A, key }, 'connect'))).toBe('accepted');
    expect(() => resolveTls({ cert: key, key }, 'connect')).toThrow(/tls\.cert holds EC PARAMETERS and an EC PRIVATE KEY, not a CERTIFICATE$/);
  });

  // OpenSSL loads an empty certificate and key as none (a listener then refuses every handshake),
  // and says only "no start line" for a path, "bad decrypt" for an encrypted key.
  it.each<[string, TlsOptions, RegExp]>([
    ['an empty certificate and key', { cert: '', key: '' }, /: tls\.cert is empty: give the PEM text/],
    ['empty bytes as the key', { cert: A, key: new Uint8Array(0) }, /: tls\.key is empty/],
    ['a path as the certificate', { cert: '/etc/skein/tls/server.crt', key: KEY }, /: tls\.cert holds no PEM block \(-----BEGIN \.\.\.-----\): it looks like a file path; give the file's contents/],
    ['a Windows path as the key', { cert: A, key: 'C:\\skein\\server.key' }, /: tls\.key holds no PEM block .*: it looks like a file path/],
    ['a relative file name as the key', { cert: A, key: 'server.key' }, /: tls\.key holds no PEM block .*: it looks like a file path/],
    ['base64 without its BEGIN line', { cert: 'MIIB/'.padEnd(80, 'A'), key: KEY }, /: tls\.cert holds no PEM block \(-----BEGIN \.\.\.-----\)$/],
    ['an encrypted PKCS#8 key', { cert: A, key: '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAA==\n-----END ENCRYPTED PRIVATE KEY-----\n' }, /: tls\.key is encrypted with a passphrase, which Skein does not take: give it decrypted/],
    ['an encrypted traditional key', { cert: A, key: '-----BEGIN EC PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00\n\nAA==\n-----END EC PRIVATE KEY-----\n' }, /: tls\.key is encrypted with a passphrase/],
  ])('refuses %s with InvalidArgument naming the option, never its contents', (_, tls, why) => {
    expect(() => resolveTls(tls, 'connect')).toThrow(why);
    expect(invalid(() => resolveTls(tls, 'listen'))).toBe('InvalidArgument');
    expect(invalid(() => reloadedTls({ cert: A, key: KEY }, tls))).toBe('InvalidArgument');
  });

  it('reloadedTls keeps the listen options and takes the new certificate', () => {
    const key2 = KEY.replace('AA==', 'AQ==');
    const s = reloadedTls({ cert: A, key: KEY, ca: A, requestCert: true, handshakeTimeoutMs: 5 }, { cert: A + A, key: key2 });
    expect(s).toMatchObject({ cert: A + A, key: key2, ca: [A], requestCert: true, handshakeTimeoutMs: 5 });
  });

  it('reloadedTransportTls checks the reloaded options as a connect\'s always, as a listener\'s only while listening', () => {
    // A client-only transport: a servername, no certificate of its own (a CA only), then a client pair.
    const client: TlsOptions = { ca: A, servername: 'localhost' };
    expect(reloadedTransportTls(client, { ca: A + A }, false)).toEqual({ ca: A + A, servername: 'localhost', cert: undefined, key: undefined });
    expect(reloadedTransportTls(client, { cert: A, key: KEY }, false)).toMatchObject({ cert: A, key: KEY, ca: A, servername: 'localhost' });
    expect(() => reloadedTransportTls(client, { cert: A }, false)).toThrow(/tls\.cert and tls\.key go together/);
    // Listening too: both checks (a listener serves its cert and takes no servername).
    expect(() => reloadedTransportTls(client, { cert: A, key: KEY }, true)).toThrow(/tls\.servername is for connect/);
    expect(() => reloadedTransportTls({ ca: A }, { ca: A }, true)).toThrow(/a TLS listener needs tls\.cert/);
    // A listener's requestCert is not a connect's mistake: its client half leaves it out.
    expect(reloadedTransportTls({ cert: A, key: KEY, ca: A, requestCert: true }, { cert: A + A, key: KEY }, true)).toMatchObject({ cert: A + A, requestCert: true });
    expect(reloadedTransportTls({ cert: A, key: KEY, ca: A, requestCert: true }, { cert: A + A, key: KEY }, false)).toMatchObject({ cert: A + A, requestCert: true });
  });

  it('sniName: the servername given, else the host dialled when it is a name; never an IP address', () => {
    const name = (host: string | undefined, servername?: string): string | undefined => sniName(host, resolveTls({ servername }, 'connect'));
    expect([name('db-1.internal'), name('127.0.0.1'), name('::1'), name('fe80::1%eth0'), name(undefined)]).toEqual(['db-1.internal', undefined, undefined, undefined, undefined]);
    expect([name('127.0.0.1', 'localhost'), name(undefined, 'localhost')]).toEqual(['localhost', 'localhost']);
  });
});

describe('identityOf', () => {
  it('reads subject, SANs and fingerprint from a Node-style certificate; none without one', () => {
    const cert = { subject: { CN: 'c', OU: ['a', 'b'] }, subjectaltname: 'DNS:x, URI:spiffe://y', fingerprint256: 'AB:CD' };
    expect(identityOf(cert)).toEqual({ subject: 'CN=c,OU=a,OU=b', altNames: ['DNS:x', 'URI:spiffe://y'], fingerprint256: 'AB:CD' });
    expect(identityOf({})).toBeUndefined();
    expect(identityOf(null)).toBeUndefined();
  });
});

describe('TLS failures', () => {
  it.each([
    ['tlsv13 alert certificate required', 'Unauthenticated'],
    ['received fatal alert: CertificateRequired', 'Unauthenticated'],
    ['TLSV1_ALERT_UNKNOWN_CA', 'Unauthenticated'],
    ['sslv3 alert certificate expired', 'Unauthenticated'],
    ['wrong version number', 'Unreachable'],
    ['self-signed certificate in certificate chain', 'Unreachable'],
  ])('%s is %s', (message, code) => {
    expect(tlsFailure('h:1', message).codeName).toBe(code);
  });

  // TLS 1.2 mTLS: the refusal comes inside the handshake, as an alert or a silent close.
  it('a handshake_failure alert names the likely cause, and an alert never asks whether the server speaks TLS', () => {
    for (const raw of ['ssl3_read_bytes:sslv3 alert handshake failure:rec_layer_s3.c:1601:SSL alert number 40', 'EPROTO error:10000410:SSL routines:OPENSSL_internal:SSLV3_ALERT_HANDSHAKE_FAILURE', 'received fatal alert: HandshakeFailure']) {
      const none = tlsFailure('h:1', raw, undefined, { presentedCert: false });
      expect(none).toMatchObject({ code: ErrorCode.Unreachable, message: expect.stringContaining('the server may require a client certificate') });
      expect(tlsFailure('h:1', raw, undefined, { presentedCert: true }).message).toContain("may have refused this client's certificate");
    }
    expect(tlsFailure('h:1', 'received fatal alert: UnexpectedMessage').message).not.toMatch(/speak TLS/);
    expect(tlsFailure('h:1', 'BrokenPipe: broken pipe', undefined, { presentedCert: false }).message).toContain('the server may require a client certificate');
  });

  // A server's certificate from a CA this client does not trust (a private CA, no tls.ca): each
  // library's words, or OpenSSL's verify code alone, say where the CA goes. The runtime suites check it end to end.
  it("a server certificate from an untrusted CA says to give that CA as the client's tls.ca, by code or words", () => {
    const coded = (code: string): Error => Object.assign(new Error('certificate verify failed'), { code });
    for (const [raw, cause] of [
      ['unable to verify the first certificate', undefined],
      ['unable to get local issuer certificate', undefined],
      ['self-signed certificate in certificate chain', undefined],
      ['self signed certificate', undefined],
      ['invalid peer certificate: UnknownIssuer', undefined],
      ['certificate verify failed', coded('UNABLE_TO_VERIFY_LEAF_SIGNATURE')],
      ['certificate verify failed', coded('UNABLE_TO_GET_ISSUER_CERT_LOCALLY')],
      ['certificate verify failed', coded('SELF_SIGNED_CERT_IN_CHAIN')],
      ['certificate verify failed', coded('DEPTH_ZERO_SELF_SIGNED_CERT')],
    ] as const) {
      expect(tlsFailure('h:1', raw, cause)).toMatchObject({ code: ErrorCode.Unreachable, message: expect.stringMatching(/failed: .*as the client's tls\.ca; see docs\/tls\.md\)$/) });
    }
    // Other verdicts on the server's certificate are no matter of CA.
    for (const raw of ['certificate has expired', "Hostname/IP does not match certificate's altnames", 'wrong version number']) expect(tlsFailure('h:1', raw).message).not.toMatch(/tls\.ca/);
    expect(tlsFailure('h:1', 'certificate has expired', coded('CERT_HAS_EXPIRED')).message).not.toMatch(/tls\.ca/);
  });

  // A plaintext server's answer, as OpenSSL and BoringSSL (Bun) spell it; the runtime suites check it end to end.
  it('bytes that are no TLS record ask whether the server speaks TLS, in either spelling', () => {
    for (const raw of ['error:0A00010B:SSL routines:ssl3_get_record:wrong version number', 'EPROTO error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER']) {
      expect(tlsFailure('h:1', raw)).toMatchObject({ code: ErrorCode.Unreachable, message: expect.stringContaining('does the server speak TLS?') });
    }
  });

  it('a close without an alert after the server answered in TLS is a refusal of the certificate shown, else the plaintext hint', () => {
    const raw = 'Client network socket disconnected before secure TLS connection was established';
    expect(tlsFailure('h:1', raw, undefined, { presentedCert: true, serverSpokeTls: true })).toMatchObject({ code: ErrorCode.Unauthenticated });
    expect(tlsFailure('h:1', raw, undefined, { presentedCert: false, serverSpokeTls: true })).toMatchObject({ code: ErrorCode.Unreachable, message: expect.stringContaining('may require a client certificate') });
    expect(tlsFailure('h:1', raw, undefined, { presentedCert: true, serverSpokeTls: false })).toMatchObject({ code: ErrorCode.Unreachable, message: expect.stringContaining('does the server speak TLS?') });
    // A runtime that cannot tell (Deno) names both causes.
    expect(tlsFailure('h:1', 'UnexpectedEof: unexpected end of file', undefined, { presentedCert: true }).message).toMatch(/speak TLS.*refuses the client certificate/);
  });

  it('a client that showed a certificate and was closed before the server said anything was probably refused', () => {
    expect(tlsCloseError('h:1', undefined, false, true)).toMatchObject({ code: ErrorCode.Unauthenticated });
    // Heard from the server, or showed no certificate: a close is a close.
    expect(tlsCloseError('h:1', undefined, true, true)).toBeUndefined();
    expect(tlsCloseError('h:1', undefined, false, false)).toBeUndefined();
    const other = new Error('EPIPE');
    expect(tlsCloseError('h:1', other, false, true)).toBe(other);
  });
});
