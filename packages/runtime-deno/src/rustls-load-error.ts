import { describe } from './socket-address.js';

/**
 * rustls's refusals of the client's own certificate, key or CA, as Deno.connectTls and
 * Deno.startTls throw them: Deno builds a connection's TLS config there, once TCP is up, so these
 * come after a successful dial, yet are the caller's options, never the network's (Node and Bun
 * refuse the same with InvalidArgument before dialling). Deno 2.9 throws:
 * - InvalidData: PEM with no key or certificate in it;
 * - `keys may not be consistent: KeyMismatch` (or `: Unknown`): a key that is not the certificate's;
 * - `unexpected error: failed to parse private key as RSA, ECDSA, or EdDSA`: a key it cannot read;
 * - `invalid peer certificate: BadEncoding`: a certificate it cannot read. No handshake has run
 *   there (it runs at `handshake()`), so no "peer certificate" here is the server's;
 * - `Failed opening CA file: ...` and `Unable to add pem file to certificate store: ...`: the CA
 *   file Deno was given (`--cert`, `DENO_CERT`) is missing, unreadable or no PEM. They end in
 *   `(os error N)`, yet name the caller's file, and no retry heals them.
 * Network failures are named otherwise (ConnectionRefused, a failed lookup).
 */
const RUSTLS_LOAD = /^(keys may not be consistent|unexpected error: failed to parse private key|invalid peer certificate|Failed opening CA file|Unable to add pem file to certificate store)\b/;

export function isRustlsLoadError(err: unknown): boolean {
  const e = err as Error | undefined;
  if (e?.name === 'InvalidData') return true;
  return e?.name === 'Error' && typeof e.message === 'string' && RUSTLS_LOAD.test(e.message);
}

/**
 * What to say of such a refusal: Deno's words, plus what to do where they mislead. rustls calls
 * the client's own certificate a "peer certificate" when it is X.509 v1 (`UnsupportedCertVersion`:
 * what `openssl x509 -req` makes without `-extfile`, and Node and Bun take), which a reader would
 * take for the server's. A v1 CA is loaded, so this names `tls.cert`.
 */
export function rustlsLoadWhy(err: unknown): string {
  const why = describe(err);
  if (!/\bUnsupportedCertVersion\b/.test(why)) return why;
  return `${why} (tls.cert is an X.509 v1 certificate, which rustls does not load: sign it as v3, with an extension, as openssl x509 -req does with -extfile)`;
}
