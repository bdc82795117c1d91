import { connectFailed, tlsFailure, type RpcError } from '@skein/core';
import { upgradeRefused } from './upgrade-refusal.js';

/** Bun's words in the error event of a socket that failed to open; the URL in them keeps its query (a token), so only the reason is kept. */
const BUN_FAILURE = /^WebSocket connection to '.*' failed: (.+)$/s;
/** Bun's reason for an upgrade answered with another HTTP status. */
const BUN_STATUS = /^Expected 101 status code: (\d{3})$/;
/** Bun's reason for a failed TLS handshake: BoringSSL's words after it. */
const BUN_TLS = /^TLS handshake failed: (.+)$/s;

/**
 * Why a standard WebSocket closed before opening. A browser's error event says nothing more;
 * Bun's says why (`Failed to connect`, a TLS failure, the HTTP status of a refused upgrade), so
 * there a 401 is Unauthenticated and a 404 names the path, and a TLS failure is read as every
 * transport reads one (core's tlsFailure: a refused client certificate is Unauthenticated), as
 * ws's client says them under Node and Deno.
 */
export function standardOpenFailure(url: string, closeCode: number, errorMessage: unknown): RpcError {
  const why = typeof errorMessage === 'string' ? BUN_FAILURE.exec(errorMessage)?.[1] : undefined;
  const status = why === undefined ? undefined : BUN_STATUS.exec(why)?.[1];
  if (status !== undefined) return upgradeRefused(url, Number(status));
  const tls = why === undefined ? undefined : BUN_TLS.exec(why)?.[1];
  if (tls !== undefined) return tlsFailure(url, tls);
  return connectFailed(url, `closed before opening (${closeCode})${why === undefined ? '' : `: ${why}`}`);
}
