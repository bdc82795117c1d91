import { ErrorCode, RpcError, formatAddress, type Address, type Transport } from '@skein/core';
import { DEFAULT_LIMITS, responseFrameSpec } from '@skein/stream';
import { silentPeer } from './silent-peer.js';

/** The connect's own timeout: short, so that the check costs a tenth of a second. */
export const CONNECT_TIMEOUT_MS = 100;
/**
 * How long past its timeout a connect may take to settle, and its socket to close: generous (a
 * loaded machine), and well short of the 10 s a connect falls back to when it drops `timeoutMs`.
 */
const LATE_MS = 4_000;

/**
 * What `transport.connect` did wrong with a peer that accepts and never answers its handshake
 * (a TLS hello, a WebSocket upgrade), in words; [] when nothing. Dialled shaped like `like` (its
 * TLS flag, URL path, TCP or Unix socket) with `timeoutMs` CONNECT_TIMEOUT_MS, it must reject
 * with RpcError(Unreachable) (core's connectFailed) within that timeout (LATE_MS allowed past it),
 * and close the socket it opened: the peer sees it close. A transport with no handshake of its
 * own (plain TCP) is up once the socket is, and is not judged; one that cannot dial a TCP or Unix
 * socket at all fails fast with Unreachable, which is right.
 */
export async function connectTimeoutProblems(transport: Transport, like: Address): Promise<string[]> {
  const peer = await silentPeer(like);
  const where = `connect(${formatAddress(peer.address)}, { timeoutMs: ${CONNECT_TIMEOUT_MS} }) to a peer that accepts and never answers its handshake`;
  try {
    const started = Date.now();
    const settled = await settleWithin(transport.connect(peer.address, responseFrameSpec(DEFAULT_LIMITS), { timeoutMs: CONNECT_TIMEOUT_MS }), CONNECT_TIMEOUT_MS + LATE_MS);
    if (settled === 'late') return [`${where} had not settled ${Date.now() - started} ms later: give the connect up at its timeoutMs, handshake included (cap your timer with core's connectTimerMs), rejecting with RpcError(Unreachable)`];
    if ('conn' in settled) {
      settled.conn.close();
      return [];
    }
    const e = settled.error;
    if (!(e instanceof RpcError && e.code === ErrorCode.Unreachable)) {
      const seen = e instanceof RpcError ? `RpcError(${e.codeName}): ${e.message}` : e instanceof Error ? `${e.name}: ${e.message} (not an RpcError)` : String(e);
      return [`${where} rejected with ${seen}: reject with RpcError(Unreachable) (core's connectFailed(remote, why, cause)), which a pool retries elsewhere`];
    }
    if (peer.accepted > 0 && !(await peer.allClosed(LATE_MS))) {
      return [`${where} rejected with Unreachable, and its socket was still open ${LATE_MS} ms later: close what a connect opened when it gives up (the peer never learns otherwise, and each retry leaks a socket)`];
    }
    return [];
  } finally {
    await peer.close();
  }
}

type Settled<T> = { conn: T } | { error: unknown };

/** What `p` settled as, or 'late' at `ms`; a connection that comes up late is closed. */
function settleWithin<T extends { close(): void }>(p: Promise<T>, ms: number): Promise<Settled<T> | 'late'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let late = false;
  const bound = new Promise<'late'>((resolve) => (timer = setTimeout(() => ((late = true), resolve('late')), ms)));
  const outcome = p.then(
    (conn): Settled<T> => (late && conn.close(), { conn }),
    (error: unknown): Settled<T> => ({ error }),
  );
  return Promise.race([outcome, bound]).finally(() => clearTimeout(timer));
}
