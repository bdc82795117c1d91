/**
 * A client's handshake failed because the server's certificate chains to no CA it trusts: the
 * usual first try against a server with a private CA, made with no `tls.ca`. The library's words
 * ("unable to verify the first certificate") never say what to change, so the error adds it.
 */

/** OpenSSL's verify codes (Node's and Bun's `err.code`) for an issuer this client does not trust. */
const UNTRUSTED_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
]);

/**
 * The same in words, for an error with no code: OpenSSL's and BoringSSL's reasons ("self signed"
 * or "self-signed" by version), rustls's `UnknownIssuer` (Deno).
 */
const UNTRUSTED_WORDS = /unable to verify the first certificate|unable to get (local )?issuer certificate|self[- ]signed certificate|certificate not trusted|unknown ?issuer/;

/** The hint after the library's reason: where the CA goes, and the page that shows it. */
export const UNTRUSTED_ISSUER_HINT =
  " (the server's certificate is not signed by a CA this client trusts: give the CA that signed it, or a self-signed certificate itself, as the client's tls.ca; see docs/tls.md)";

/** True when `lowered` (the library's message, lower case) or `cause`'s code says the server's issuer is not trusted. */
export function isUntrustedIssuer(lowered: string, cause: unknown): boolean {
  const code = typeof cause === 'object' && cause !== null ? (cause as { code?: unknown }).code : undefined;
  return (typeof code === 'string' && UNTRUSTED_CODES.has(code)) || UNTRUSTED_WORDS.test(lowered);
}
