/**
 * The errors that say a TLS server refused this client's handshake with an alert (tlsFailure's
 * certificate refusals: certificate_required, bad_certificate, unknown_ca, ...): the server
 * said it, so a pool takes it as its connect's verdict (fails its waiting calls with it at once;
 * a reloadTls may mend it). Under TLS 1.3 it comes after the client's handshake is done, at its
 * first read. It does not say that calls written on that connection never ran: a TLS 1.2 server
 * may renegotiate after reading them and refuse the certificate then.
 *
 * Kept in a set, not a field: every RpcError keeps one shape, and only the few errors a refusal
 * makes are marked. A close without an alert (a reset before the server sent anything) is a guess
 * at a refusal, not one: it is never marked.
 */
const refusals = new WeakSet<Error>();

/** Marks `err` as a server's refusal of the TLS handshake (see above) and returns it. */
export function markHandshakeRefusal<E extends Error>(err: E): E {
  refusals.add(err);
  return err;
}

/** True when `err` is a TLS server's alert refusing this client's handshake: nothing sent on that connection ran. */
export function isHandshakeRefusal(err: unknown): boolean {
  return err instanceof Error && refusals.has(err);
}
