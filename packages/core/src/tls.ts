import { ErrorCode } from './error-code.js';
import { markHandshakeRefusal } from './handshake-refusal.js';
import { UNTRUSTED_ISSUER_HINT, isUntrustedIssuer } from './untrusted-issuer.js';
import { damagedCa, damagedCertificate, type CertificateParser } from './pem-certificates.js';
import { unloadablePem } from './pem-content.js';
import { pemLabels, wrongPemKind } from './pem-kind.js';
import { RpcError, invalidArgument } from './rpc-error.js';

/** PEM text, or its bytes. */
export type Pem = string | Uint8Array;

/**
 * TLS for a connect or a listen: one shape for both sides and every runtime and transport. A
 * runtime that cannot do something asked of it throws InvalidArgument saying so (see docs/tls.md
 * for what each runtime supports).
 */
export interface TlsOptions {
  /** Certificate chain, PEM, leaf first. Listen: required. Connect: presented to a server that asks (mTLS). */
  cert?: Pem | undefined;
  /** The private key of `cert`, PEM (unencrypted). */
  key?: Pem | undefined;
  /**
   * CA certificates to verify the peer with, instead of the runtime's default roots. Listen:
   * the CAs a client certificate must chain to (needed for `requestCert`).
   */
  ca?: Pem | readonly Pem[] | undefined;
  /** Connect: the name the server's certificate must have, sent as SNI. Default: the address's host. */
  servername?: string | undefined;
  /** ALPN protocol id offered (connect) or chosen (listen). Default `skein`; false sends none. */
  alpn?: string | false | undefined;
  /** Oldest TLS version accepted. Default `TLSv1.2`. */
  minVersion?: 'TLSv1.2' | 'TLSv1.3' | undefined;
  /**
   * Listen: require a client certificate that chains to `ca` (mutual TLS). A client without one,
   * or with an expired or foreign one, is closed before any of its bytes are read; its verified
   * identity is then the connection's `identity`.
   */
  requestCert?: boolean | undefined;
  /**
   * A connection whose handshake is not done by then is closed (listen) or fails (connect).
   * Until then it counts as a connection (against a server's `maxConnections`). Default 10 s.
   */
  handshakeTimeoutMs?: number | undefined;
  /**
   * Listen: a warning is logged (the server's logger) when the certificate served, at listen, at
   * a reload and daily after, expires within this long, or has expired or is not yet valid. It
   * is never refused for that: clients decide. Connect: the same of the client certificate
   * (`cert`, mTLS), through the client's logger, at its first connect and at most daily after
   * (servers decide). Default 14 days; 0 warns only of one expired or not yet valid.
   */
  expiryWarningMs?: number | undefined;
}

/** TlsOptions after defaults and checks: what a runtime reads. */
export interface ResolvedTls {
  readonly cert: string | undefined;
  readonly key: string | undefined;
  readonly ca: string[] | undefined;
  readonly servername: string | undefined;
  readonly alpn: string | undefined;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  readonly requestCert: boolean;
  readonly handshakeTimeoutMs: number;
}

/** The ALPN protocol id Skein offers and chooses unless told otherwise. */
export const SKEIN_ALPN = 'skein';
export const DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * The verified identity of a TLS peer: the client of an mTLS connection (server side), or the
 * server (client side). Read from the certificate the handshake verified, once per connection.
 */
export interface PeerIdentity {
  /** The certificate's subject, e.g. `CN=test-client,O=Example`. */
  readonly subject: string;
  /** Subject alternative names as OpenSSL prints them: `DNS:host`, `IP Address:10.0.0.1`, `URI:spiffe://...`. */
  readonly altNames: readonly string[];
  /** SHA-256 of the DER certificate, upper-case hex pairs joined by `:` (as `openssl x509 -fingerprint -sha256` prints it). */
  readonly fingerprint256: string;
}

const text = (p: Pem): string => (typeof p === 'string' ? p : new TextDecoder().decode(p));

/** Checks `tls` for a connect or a listen and fills in the defaults. Throws InvalidArgument on a mistake. */
export function resolveTls(tls: TlsOptions, side: 'connect' | 'listen'): ResolvedTls {
  if (typeof tls !== 'object' || tls === null) throw invalidArgument('tls must be an object of TLS options');
  const { minVersion = 'TLSv1.2', alpn = SKEIN_ALPN, handshakeTimeoutMs = DEFAULT_TLS_HANDSHAKE_TIMEOUT_MS, requestCert = false } = tls;
  if (minVersion !== 'TLSv1.2' && minVersion !== 'TLSv1.3') throw invalidArgument(`tls.minVersion must be 'TLSv1.2' or 'TLSv1.3', got ${JSON.stringify(minVersion)}`);
  if (alpn !== false && (typeof alpn !== 'string' || alpn.length === 0 || alpn.length > 255)) {
    throw invalidArgument(`tls.alpn must be a protocol id of 1 to 255 characters, or false; got ${JSON.stringify(alpn)}`);
  }
  if (!(handshakeTimeoutMs > 0) || !Number.isFinite(handshakeTimeoutMs)) throw invalidArgument(`tls.handshakeTimeoutMs ${handshakeTimeoutMs} is not a positive duration`);
  // Read by the listener's CertificateExpiryWatch (certificate-expiry.ts) and a client's warnOfClientCertificate, not by the runtime: checked here, before anything is bound.
  const { expiryWarningMs } = tls;
  if (expiryWarningMs !== undefined && !(expiryWarningMs >= 0 && Number.isFinite(expiryWarningMs))) throw invalidArgument(`tls.expiryWarningMs ${expiryWarningMs} is not a duration (0 or more ms)`);
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw invalidArgument('tls.cert and tls.key go together: give both or neither');
  const ca = tls.ca === undefined ? undefined : (Array.isArray(tls.ca) ? (tls.ca as readonly Pem[]) : [tls.ca as Pem]).map(text);
  // OpenSSL under Node loads a CA with no certificate in it as none at all, silently: an mTLS
  // listener reloaded with one would then refuse every client. The plain label only: Bun's
  // BoringSSL and Deno's rustls load no TRUSTED CERTIFICATE (`openssl x509 -trustout`), silently.
  const noCa = ca?.find((one) => !one.includes('-----BEGIN CERTIFICATE-----'));
  if (noCa !== undefined) throw unusableTls(`tls.ca holds no PEM certificate (-----BEGIN CERTIFICATE-----)${heldInstead(noCa)}`);
  // An empty list is no CA either (OpenSSL then trusts nothing, not its default roots): omit ca for those.
  if (ca?.length === 0) throw unusableTls('tls.ca is an empty list: it would trust no certificate (leave ca out for the default roots)');
  // A damaged block would be skipped, silently, with those after it (see pem-certificates.ts).
  refuseDamagedCa(ca);
  refuseUnloadablePair(tls);
  refuseMixedUpPair(tls);
  // rustls (Deno) serves a chain whose later certificate is damaged, and clients refuse it then.
  const certProblem = tls.cert === undefined ? undefined : damagedCertificate(text(tls.cert));
  if (certProblem !== undefined) throw unusableTls(`tls.cert: ${certProblem}`);
  if (side === 'listen') {
    if (tls.cert === undefined) throw invalidArgument('a TLS listener needs tls.cert and tls.key');
    if (requestCert && ca === undefined) throw invalidArgument('tls.requestCert needs tls.ca: the CAs client certificates must chain to');
    if (tls.servername !== undefined) throw invalidArgument('tls.servername is for connect; a listener serves its tls.cert');
  } else if (requestCert) {
    throw invalidArgument('tls.requestCert is for listen; a client presents tls.cert when the server asks');
  }
  return {
    cert: tls.cert === undefined ? undefined : text(tls.cert),
    key: tls.key === undefined ? undefined : text(tls.key),
    ca,
    servername: tls.servername,
    alpn: alpn === false ? undefined : alpn,
    minVersion,
    requestCert,
    handshakeTimeoutMs,
  };
}

/** `: it holds a PRIVATE KEY` (its PEM labels), or nothing when it holds no PEM block. */
function heldInstead(pem: string): string {
  const labels = pemLabels(pem);
  return labels.length === 0 ? '' : `: it holds ${labels.join(', ')}`;
}

/** Refuses an empty certificate or key, a path given for one, and an encrypted key (see pem-content.ts). */
function refuseUnloadablePair(tls: TlsOptions): void {
  const why = (tls.cert === undefined ? undefined : unloadablePem(text(tls.cert), 'tls.cert')) ?? (tls.key === undefined ? undefined : unloadablePem(text(tls.key), 'tls.key'));
  if (why !== undefined) throw unusableTls(why);
}

/**
 * Refuses a key given as the certificate, or a certificate as the key, saying which option holds
 * what: the TLS libraries say only "no start line" or "DECODER routines::unsupported".
 */
function refuseMixedUpPair(tls: TlsOptions): void {
  const cert = tls.cert === undefined ? undefined : wrongPemKind(text(tls.cert), 'certificate');
  const key = tls.key === undefined ? undefined : wrongPemKind(text(tls.key), 'private key');
  const swapped = cert !== undefined && key !== undefined ? ' (tls.cert and tls.key swapped?)' : '';
  if (cert !== undefined) throw unusableTls(`tls.cert ${cert}${swapped}`);
  if (key !== undefined) throw unusableTls(`tls.key ${key}`);
}

/**
 * Refuses a CA holding a damaged certificate (`damagedCa`) with the InvalidArgument a listen,
 * connect or reloadTls rejects with. resolveTls checks the structure for every runtime; a
 * runtime with a certificate parser of its own (Node's X509Certificate) checks again with it.
 */
export function refuseDamagedCa(ca: readonly string[] | undefined, parse?: CertificateParser): void {
  const why = ca === undefined ? undefined : damagedCa(ca, parse);
  if (why !== undefined) throw unusableTls(why);
}

/**
 * The name a client sends as SNI for a connect to `host` (undefined: a Unix socket): the
 * `servername` given, else the host dialled when it is a name. Never an IP address (RFC 6066
 * forbids one in SNI); the certificate is still checked against that address (its IP SANs).
 */
export function sniName(host: string | undefined, s: { readonly servername?: string | undefined }): string | undefined {
  if (s.servername !== undefined) return s.servername;
  return host === undefined || isIpLiteral(host) ? undefined : host;
}

/** An IPv4 dotted quad or an IPv6 address (a host name never has a colon). */
const isIpLiteral = (host: string): boolean => host.includes(':') || /^\d{1,3}(\.\d{1,3}){3}$/.test(host);

/** The fields of a Node-style peer certificate (`tls.TLSSocket#getPeerCertificate`, which Bun has too) that make an identity. */
export interface DetailedPeerCertificate {
  readonly subject?: Readonly<Record<string, string | string[] | undefined>>;
  readonly subjectaltname?: string;
  readonly fingerprint256?: string;
}

/** The identity in a Node-style peer certificate; undefined when the peer sent none. */
export function identityOf(cert: DetailedPeerCertificate | null | undefined): PeerIdentity | undefined {
  if (!cert || !cert.fingerprint256) return undefined;
  const subject = Object.entries(cert.subject ?? {})
    .flatMap(([k, v]) => (v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((one) => `${k}=${one}`)))
    .join(',');
  const altNames = cert.subjectaltname ? cert.subjectaltname.split(', ') : [];
  return { subject, altNames, fingerprint256: cert.fingerprint256 };
}

/**
 * What a client knew of its failed handshake, beyond the library's message: whether it had a
 * certificate to show, and (where the runtime can tell) whether the server answered in TLS
 * (its first flight arrived: with TLS 1.2, a server that asks for a certificate asks in it).
 */
export interface TlsHandshakeSeen {
  readonly presentedCert: boolean;
  /** Undefined: the runtime cannot tell (Deno). */
  readonly serverSpokeTls?: boolean | undefined;
}

/** An alert about our certificate: bad_certificate 42, certificate_unknown 46, unknown_ca 48, access_denied 49, certificate_required 116, expired, revoked... */
const CERTIFICATE_ALERT = /alert.*(certificate|unknown[ _]?ca|access[ _]?denied)|certificate[ _]?required|bad[ _]?certificate|unknown[ _]?ca\b/;
/** handshake_failure (40): no certificate where one is required, or no shared version or cipher. */
const HANDSHAKE_FAILURE_ALERT = /alert[ _:]*handshake[ _]?failure|alert number 40\b/;
/**
 * A peer that stopped the handshake without a TLS alert (a plaintext server, or one that closes a
 * refused client silently). `[ _]`: BoringSSL (Bun) spells OpenSSL's reasons as codes
 * (WRONG_VERSION_NUMBER for a plaintext server's answer).
 */
const SILENT_CLOSE = /wrong[ _]version[ _]number|unknown[ _]protocol|packet[ _]length[ _]too[ _]long|record[ _]layer[ _]failure|http[ _]request|before secure tls connection|corrupt message|invalidcontenttype|received corrupt|unexpected eof|eof|econnreset|connection reset|tls handshake eof|unexpected message/;

/**
 * A TLS failure as the typed error Skein reports. `message` is the runtime's (OpenSSL's,
 * BoringSSL's or rustls's wording). The server refusing our certificate is Unauthenticated; a
 * peer that does not speak TLS, or a server certificate we do not trust, is Unreachable (the
 * server saw no request: any call may go elsewhere), with a message that says which. `seen`
 * tells the causes of an ambiguous failure apart (TLS 1.2 mTLS refuses inside the handshake):
 * a handshake_failure alert to a client with no certificate names the likely cause, and a
 * server that answered in TLS and then closed on a client that showed one refused it.
 */
export function tlsFailure(remote: string, raw: string, cause?: unknown, seen?: TlsHandshakeSeen): RpcError {
  // OpenSSL's text ends in a newline: kept, it splits the error's line (or shows as an escape).
  const message = raw.trim();
  const m = message.toLowerCase();
  const failed = (code: ErrorCode, hint: string): RpcError => new RpcError(code, `TLS handshake with ${remote} failed: ${message}${hint}`, { cause });
  if (CERTIFICATE_ALERT.test(m)) {
    // The server's own verdict on this client's certificate (isHandshakeRefusal). Not a sign that it
    // read nothing: a TLS 1.2 server may renegotiate after reading calls and refuse then.
    return markHandshakeRefusal(new RpcError(ErrorCode.Unauthenticated, `${remote} refused the TLS connection: ${message} (the server wants a client certificate its CAs vouch for: check tls.cert, tls.key)`, { cause }));
  }
  // An alert came: the server speaks TLS, whatever else is wrong.
  if (HANDSHAKE_FAILURE_ALERT.test(m)) {
    const likely = seen?.presentedCert === false ? 'the server may require a client certificate (check tls.cert, tls.key)' : 'the server may have refused this client\'s certificate';
    return failed(ErrorCode.Unreachable, ` (${likely}, or it shares no TLS version or cipher with this client)`);
  }
  if (/alert/.test(m)) return failed(ErrorCode.Unreachable, '');
  // Our own verdict on the server's certificate: its CA is not ours (no tls.ca, or another one).
  if (isUntrustedIssuer(m, cause)) return failed(ErrorCode.Unreachable, UNTRUSTED_ISSUER_HINT);
  // The server closed while we wrote (Deno's rustls, sending its second flight, before it read
  // the alert): a server that answered our ClientHello, so no plaintext one.
  if (/broken ?pipe|epipe/.test(m)) {
    const likely = seen?.presentedCert === false ? 'the server may require a client certificate (check tls.cert, tls.key)' : 'the server may have refused this client\'s certificate';
    return failed(ErrorCode.Unreachable, ` (closed during the handshake: ${likely})`);
  }
  if (SILENT_CLOSE.test(m)) {
    if (seen?.serverSpokeTls && seen.presentedCert) {
      return new RpcError(ErrorCode.Unauthenticated, `${remote} closed the TLS handshake after answering in TLS: it may have refused this client's certificate (expired, or from a CA it does not trust): ${message}`, { cause });
    }
    if (seen?.serverSpokeTls) return failed(ErrorCode.Unreachable, ' (the server answered in TLS, then closed: it may require a client certificate: check tls.cert, tls.key)');
    const refused = seen?.presentedCert && seen.serverSpokeTls === undefined ? '; a TLS 1.2 server that refuses the client certificate closes so too' : '';
    return failed(ErrorCode.Unreachable, ` (does the server speak TLS? a plaintext server closes a TLS client at once${refused})`);
  }
  return failed(ErrorCode.Unreachable, '');
}

/** The first bytes of a TLS record (handshake or alert, TLS 1.0-1.3): what a plaintext peer sees from a TLS one. */
export function looksLikeTls(bytes: Uint8Array, at = 0): boolean {
  return bytes.length - at >= 3 && (bytes[at] === 0x16 || bytes[at] === 0x15) && bytes[at + 1] === 0x03 && bytes[at + 2]! <= 0x04;
}

/**
 * The options a listener has after `reloadTls(next)`: `next`'s certificate, key and CA where
 * given, the options it had for everything else. A listener keeps these as its options, so that
 * a later reload that gives only some of them keeps what this one gave.
 */
export function reloadedTlsOptions(listening: TlsOptions, next: TlsOptions): TlsOptions {
  const { cert = listening.cert, key = listening.key, ca = listening.ca } = next;
  return { ...listening, cert, key, ca };
}

/** What a listener's `reloadTls(next)` serves from then on (`reloadedTlsOptions`, checked). */
export function reloadedTls(listening: TlsOptions, next: TlsOptions): ResolvedTls {
  return resolveTls(reloadedTlsOptions(listening, next), 'listen');
}

/**
 * The options a transport holds after its `reloadTls(next)` (`reloadedTlsOptions`), checked for
 * the sides it uses: as a connect's always, since its later connects use them (so a client-only
 * transport rotates its client certificate, or the CA it trusts, with a `servername` it was made
 * with still valid), and as a listener's too while `listening` (it has TLS listeners open).
 * Throws InvalidArgument when they are invalid for either, before the transport changes anything.
 */
export function reloadedTransportTls(current: TlsOptions, next: TlsOptions, listening: boolean): TlsOptions {
  const options = reloadedTlsOptions(current, next);
  resolveTls(connectTlsOptions(options), 'connect');
  if (listening) resolveTls(options, 'listen');
  return options;
}

/** `tls` for a connect: without the listener-only `requestCert`, so that one transport's options may serve and dial. */
export function connectTlsOptions(tls: TlsOptions): TlsOptions {
  const { requestCert: _listenOnly, ...rest } = tls;
  return rest;
}

/**
 * A certificate, key or CA that the runtime's TLS library would not load (PEM that does not
 * parse, a key that is not the certificate's): the InvalidArgument a listen or a reloadTls
 * rejects with. `why` is the library's own wording.
 */
export function unusableTls(why: string, cause?: unknown): RpcError {
  const named = KEY_NOT_THE_CERTIFICATES.test(why) ? `tls.key is not the private key of tls.cert: ${why}` : why;
  return new RpcError(ErrorCode.InvalidArgument, `tls: cannot use the certificate, key or CA given: ${named}`, { cause });
}

/**
 * A key that is not the certificate's, in each library's words (OpenSSL's `key values mismatch`,
 * BoringSSL's `KEY_VALUES_MISMATCH`, rustls's `keys may not be consistent`), which name neither
 * option: the error names them, at a listen, a connect and a reloadTls alike.
 */
const KEY_NOT_THE_CERTIFICATES = /key[ _]values[ _]mismatch|keys may not be consistent/i;

/**
 * Why a TLS client connection closed, as Skein reports it. A TLS error (an alert from the
 * server) is `tlsFailure`'s typed error. With TLS 1.3 the client's handshake is done before the
 * server has checked its certificate, so a refusal arrives after the connect: as an alert, or,
 * from a server that cannot send one (Node's and Bun's own verify after the handshake), as a
 * close before the server sent a byte, which is reported as a probable refusal when the client
 * presented a certificate. Any other close keeps its error.
 */
export function tlsCloseError(remote: string, err: Error | undefined, heard: boolean, presentedCert: boolean): Error | undefined {
  if (err && /ssl|tls|alert|certificate/i.test(`${(err as { code?: string }).code ?? ''} ${err.message}`)) return tlsFailure(remote, err.message, err);
  if (!presentedCert || heard || (err && !/ECONNRESET|reset/i.test(`${(err as { code?: string }).code ?? ''} ${err.message}`))) return err;
  return new RpcError(
    ErrorCode.Unauthenticated,
    `${remote} closed the TLS connection before sending anything: it may have refused this client's certificate (expired, or from a CA it does not trust)`,
    { cause: err },
  );
}
