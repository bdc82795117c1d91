import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, type ActionHandler, type StreamCall } from '../src/index.js';
import { localServer } from './pool-harness.js';
import { transport, u32 } from './harness.js';

const cleanup = cleanups();

/** A watch with no end of its own: an item every few ms until its client goes (its signal). */
const watch: ActionHandler = async (req) => {
  for (let i = 1; !req.signal.aborted; i++) {
    await req.stream!.write(u32(i));
    await new Promise((r) => setTimeout(r, 5));
  }
};

async function server() {
  const s = await localServer({ watch });
  cleanup.push(() => s.server.close());
  return s;
}

/** Reads `s` to its end: how many items came, and the error it ended with (undefined when it ended well). */
function drain(s: StreamCall): { items: () => number; ended: Promise<unknown> } {
  let items = 0;
  const ended = (async () => {
    for await (const _ of s) items++;
  })().then(
    () => undefined,
    (e: unknown) => e,
  );
  return { items: () => items, ended };
}

// A stream without a timeoutMs has no bound, so a pool's graceful close() waits for it for as
// long as its server keeps it open (docs: close() lets calls and streams in flight finish). A
// ConnPool has destroy() to end everything now; a FailoverPool had none, so a process holding
// watches through one could only end them one by one, and its close() never settled.
describe('FailoverPool.destroy()', () => {
  it('ends every open stream at once with IO, on every server, one removed and still draining too; close() settles', async () => {
    const a = await server();
    const b = await server();
    const pool = new FailoverPool({ transport, servers: [a.address, b.address] });
    cleanup.push(() => pool.close());
    const first = drain(pool.openStream('watch'));
    const second = drain(pool.openStream('watch'));
    await waitFor(() => first.items() > 0 && second.items() > 0, { what: 'both watches to flow' });
    expect(a.counts.watch).toBe(1);
    expect(b.counts.watch).toBe(1);

    // b leaves the pool: its watch goes on (remove lets it finish), held by a pool that drains.
    const removed = pool.remove(b.address);
    const closed = pool.close();
    let settled = false;
    void Promise.all([removed, closed]).then(() => (settled = true));
    const before = second.items();
    await waitFor(() => second.items() > before, { what: 'the removed server\'s watch to go on after close()' });
    expect(settled).toBe(false);

    pool.destroy();
    for (const s of [first, second]) {
      const err = await s.ended;
      expect(err).toBeInstanceOf(RpcError);
      expect((err as RpcError).code).toBe(ErrorCode.IO);
      expect((err as RpcError).retry).toBe('idempotent');
      expect((err as RpcError).message).toContain('pool destroyed');
    }
    await Promise.all([removed, closed]);
    // Closed as close() leaves it: new calls and streams fail Closed, unsent.
    expect((await pool.call('watch').catch((e: unknown) => e) as RpcError).code).toBe(ErrorCode.Closed);
    expect((await drain(pool.openStream('watch')).ended as RpcError).code).toBe(ErrorCode.Closed);
    expect(a.counts.watch).toBe(1);
    expect(b.counts.watch).toBe(1);
  });

  it('before close(), it closes the pool as well, with the reason given', async () => {
    const a = await server();
    const pool = new FailoverPool({ transport, servers: [a.address] });
    cleanup.push(() => pool.close());
    const open = drain(pool.openStream('watch'));
    await waitFor(() => open.items() > 0, { what: 'the watch to flow' });
    pool.destroy('shutting down');
    // Closed as by close(), not only its servers' pools: nothing joins it, no call is taken.
    let added: unknown;
    try {
      pool.add(a.address.replace(/:\d+$/, ':1'));
    } catch (e) {
      added = e;
    }
    expect(added).toMatchObject({ code: ErrorCode.Closed, message: 'failover pool is closed' });
    expect(await pool.call('watch').catch((e: unknown) => e)).toMatchObject({ code: ErrorCode.Closed, message: 'failover pool is closed' });
    const err = (await open.ended) as RpcError;
    expect(err.code).toBe(ErrorCode.IO);
    expect(err.message).toContain('shutting down');
    await pool.close();
    expect(pool.stats()[0]!.state).toBe('closed');
  });
});
