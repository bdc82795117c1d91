import { connectFailed, shownUrl, tlsFailure, type RpcError } from '@skein/core';
import { upgradeRefused } from './upgrade-refusal.js';

/** Bun's words in the error event of a socket that failed to open; the URL in them keeps its query (a token), so only the reason is kept. */
const BUN_FAILURE = /^WebSocket connection to '.*' failed: (.+)$/s;
/** Bun's reason for an upgrade answered with another HTTP status, its status text or none after the number. */
const BUN_STATUS = /^Expected 101 status code: (\d{3})\b/;
/** Bun's reason for a failed TLS handshake: BoringSSL's words after it. */
const BUN_TLS = /^TLS handshake failed: (.+)$/s;

/**
 * Why a standard WebSocket closed before opening. A browser's error event says nothing more;
 * Bun's says why (`Failed to connect`, a TLS failure, the HTTP status of a refused upgrade), so
 * there a 401 is Unauthenticated and a 404 names the path, and a TLS failure is read as every
 * transport reads one (core's tlsFailure: a refused client certificate is Unauthenticated), as
 * ws's client says them under Node and Deno. `dialled` is the URL as dialled, query and all: the
 * error names it without its query, and its query is cut from Bun's reason too.
 */
export function standardOpenFailure(dialled: string, closeCode: number, errorMessage: unknown): RpcError {
  const url = shownUrl(dialled);
  const said = typeof errorMessage === 'string' ? BUN_FAILURE.exec(errorMessage)?.[1] : undefined;
  const why = said === undefined ? undefined : withoutQuery(said, dialled, url);
  const status = why === undefined ? undefined : BUN_STATUS.exec(why)?.[1];
  if (status !== undefined) return upgradeRefused(url, Number(status));
  const tls = why === undefined ? undefined : BUN_TLS.exec(why)?.[1];
  if (tls !== undefined) return tlsFailure(url, tls);
  return connectFailed(url, `closed before opening (${closeCode})${why === undefined ? '' : `: ${why}`}`);
}

/**
 * A reason with the dialled URL's query cut wherever it shows: the reason is passed on as Bun
 * words it, which may name the URL (or only its path and query), as written or as the URL parser
 * writes it back (a host lowercased, a quote percent-encoded), and a token must not reach an
 * error, whatever Bun's wording becomes.
 */
function withoutQuery(reason: string, dialled: string, shown: string): string {
  // shownUrl cuts at the query's `?`: what it left out is the query.
  if (shown === dialled) return reason;
  const query = dialled.slice(shown.length - '?…'.length);
  const parsed = parsedUrl(dialled);
  const forms = [[dialled, shown], [parsed?.href ?? '', shown], [query, '?…'], [parsed?.search ?? '', '?…']] as const;
  return forms.filter(([text]) => text.length > 1).reduce((text, [form, cut]) => text.split(form).join(cut), reason);
}

function parsedUrl(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}
