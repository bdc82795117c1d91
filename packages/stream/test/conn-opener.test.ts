import { ErrorCode, parseAddress, type RpcError } from '@skein/core';
import { ManualClock, cleanups, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool } from '../src/index.js';
import { requestFrameSpec } from '../src/wire/frame-specs.js';
import { DEFAULT_LIMITS } from '../src/wire/limits.js';
import { PING_ACTION, readRequestHeader, type RequestHeader } from '../src/wire/protocol.js';
import { transport } from './harness.js';

// How a pool opens its connections (conn-opener.ts): what becomes of one not proven yet.

const cleanup = cleanups();

/**
 * A hung server: its kernel completes the handshake, and nothing ever answers. It records the
 * requests it reads, so that the test knows when the pool's first ping is out.
 */
async function hungServer() {
  const got: RequestHeader[] = [];
  const listener = await transport.listen(parseAddress('127.0.0.1:0'), requestFrameSpec(DEFAULT_LIMITS), (conn) => {
    conn.bind({ frame: (bytes, start) => void got.push(readRequestHeader(bytes.subarray(start))), drain: () => {}, close: () => {} });
  });
  cleanup.push(() => listener.close());
  return { address: `127.0.0.1:${(listener.address as { port: number }).port}`, got };
}

describe('a pool closed while a connection waits for its first ping', () => {
  it('ends that connection at once: close() settles, and the waiting call fails Closed, unsent', async () => {
    const hung = await hungServer();
    // The ping would wait out keepaliveTimeoutMs (ten minutes, on a clock the test never moves).
    const clock = new ManualClock();
    const p = new ConnPool({ transport, address: hung.address, clock, stream: { keepaliveMs: 0, keepaliveTimeoutMs: 600_000 } });
    cleanup.push(() => p.destroy());
    const call = p.call('x').catch((e: unknown) => e as RpcError);
    await waitFor(() => hung.got.some((h) => h.action === PING_ACTION), { what: 'the first ping' });
    expect(p.state).toBe('connecting');
    // The bound is the test's own, a hang guard: the close does not wait on the unanswered ping.
    await within(p.close(), 5000, 'close()');
    expect(await call).toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    expect(p.stats()).toMatchObject({ state: 'closed', connections: 0, queued: 0 });
  });
});
