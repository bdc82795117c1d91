/**
 * What the TLS libraries say of a client whose first bytes are no TLS record: OpenSSL under Node
 * (`wrong version number`, `http request`), BoringSSL under Bun (`WRONG_VERSION_NUMBER`,
 * `HTTP_REQUEST`), rustls under Deno (`received corrupt message of type InvalidContentType`).
 */
const PLAINTEXT_CLIENT = /wrong[ _]version[ _]number|https?[ _]request|https[ _]proxy[ _]request|unknown[ _]protocol|invalidcontenttype/i;

/** What an accepted TLS connection's close reason starts with when its client spoke no TLS. */
export const PLAINTEXT_ON_TLS = 'a plaintext (non-TLS) client on a TLS listener';

/**
 * Why a connection accepted on a TLS listener closed, as Skein reports it: a client that spoke
 * no TLS (a plaintext Skein client, an HTTP request) is named as such first, with what to fix,
 * and the TLS library's words kept after it (alone they read as an internal fault to whoever
 * reads the server's log: OpenSSL's `ssl3_get_record:wrong version number`). Its name and
 * `code` are the library error's. Any other close keeps its error. The client side is
 * `tlsCloseError`'s.
 */
export function tlsAcceptError(err: Error): Error;
export function tlsAcceptError(err: Error | undefined): Error | undefined;
export function tlsAcceptError(err: Error | undefined): Error | undefined {
  if (err === undefined || !PLAINTEXT_CLIENT.test(err.message)) return err;
  const hinted = new Error(
    `${PLAINTEXT_ON_TLS}: its first bytes were no TLS handshake (it should dial tls://host:port, or use a transport with tls options); the TLS library said: ${err.message.trim()}`,
    { cause: err },
  );
  hinted.name = err.name;
  const code = (err as { code?: unknown }).code;
  return code === undefined ? hinted : Object.assign(hinted, { code });
}
