/**
 * rustls's refusals of the client's own certificate or key, as Deno.connectTls throws them: it
 * builds a connection's TLS config once TCP is up, so these come after a successful dial, yet
 * are the caller's options, never the network's (Node and Bun refuse the same pair with
 * InvalidArgument before dialling). Deno 2.9 throws:
 * - InvalidData: PEM with no key or certificate in it;
 * - `keys may not be consistent: KeyMismatch` (or `: Unknown`): a key that is not the certificate's;
 * - `unexpected error: failed to parse private key as RSA, ECDSA, or EdDSA`: a key it cannot read;
 * - `invalid peer certificate: BadEncoding`: a certificate it cannot read. No handshake has run
 *   at connectTls (it runs at `handshake()`), so no "peer certificate" here is the server's.
 * Network failures are named otherwise (ConnectionRefused, `(os error N)`, a failed lookup).
 */
const RUSTLS_LOAD = /^(keys may not be consistent|unexpected error: failed to parse private key|invalid peer certificate)\b/;

export function isRustlsLoadError(err: unknown): boolean {
  const e = err as Error | undefined;
  if (e?.name === 'InvalidData') return true;
  return e?.name === 'Error' && typeof e.message === 'string' && RUSTLS_LOAD.test(e.message);
}
