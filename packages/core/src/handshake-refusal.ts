/**
 * The errors that say a TLS server refused this client's handshake with an alert (tlsFailure's
 * certificate refusals: certificate_required, bad_certificate, unknown_ca, ...). A server sends
 * one before its own handshake is done, so it read no application byte of that connection. Under
 * TLS 1.3 the client's handshake is done first, so the refusal ends a connection its client may
 * already have written calls on: those certainly never ran, as no other loss can say.
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
