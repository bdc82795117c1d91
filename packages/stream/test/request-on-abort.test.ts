import { ErrorCode, RpcError } from '@skein/core';
import { deferred, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { ServerRequest } from '../src/index.js';
import { startServer } from './harness.js';

const cleanup = cleanups();

/** A server whose handler hooks `onAbort` (and, told to, unhooks it at once) and never answers; what each call was told. */
async function hooked(unhook = false) {
  const told: { reason: unknown; signalAborted: boolean }[] = [];
  const running = deferred<ServerRequest>();
  const s = await startServer(
    {
      hold: (req) => {
        const off = req.onAbort((reason) => told.push({ reason, signalAborted: req.signal.aborted }));
        if (unhook) off();
        running.resolve(req);
        return new Promise(() => {});
      },
    },
    { closeWaitMs: 0 },
  );
  cleanup.push(() => s.server.close());
  const client = await s.connect({ keepaliveMs: 0 });
  cleanup.push(() => client.destroy());
  return { told, running: running.promise, client };
}

describe('ServerRequest.onAbort', () => {
  it("tells a call with a head its reason once, when its signal fires (the client's cancel)", async () => {
    const { told, running, client } = await hooked();
    const ac = new AbortController();
    const call = client.call('hold', undefined, { signal: ac.signal }).catch((e: RpcError) => e);
    const req = await running;
    expect(told).toEqual([]);
    ac.abort();
    expect(RpcError.is(await call, ErrorCode.Cancelled)).toBe(true);
    await waitFor(() => told.length > 0, { what: 'the listener told' });
    expect(told).toHaveLength(1);
    expect(RpcError.is(told[0]!.reason, ErrorCode.Cancelled)).toBe(true);
    // The same reason the signal gives, which fired first.
    expect(told[0]!.signalAborted).toBe(true);
    expect(told[0]!.reason).toBe(req.signal.reason);
    // Hooked after the abort: told at once.
    const late: unknown[] = [];
    req.onAbort((r) => late.push(r));
    expect(late).toEqual([req.signal.reason]);
  });

  it('tells a call with a deadline its Timeout', async () => {
    const { told, client } = await hooked();
    const err = await client.call('hold', undefined, { timeoutMs: 50 }).catch((e: RpcError) => e);
    expect(RpcError.is(err, ErrorCode.Timeout)).toBe(true);
    await waitFor(() => told.length > 0, { what: 'the listener told' });
    expect(RpcError.is(told[0]!.reason, ErrorCode.Timeout)).toBe(true);
  });

  it('tells a plain call when its connection goes', async () => {
    const { told, running, client } = await hooked();
    void client.call('hold').catch(() => {});
    await running;
    client.destroy();
    await waitFor(() => told.length > 0, { what: 'the listener told' });
    expect(told).toHaveLength(1);
  });

  it('tells nothing once unhooked, with a head or without', async () => {
    for (const opts of [{ signal: new AbortController().signal }, {}]) {
      const { told, running, client } = await hooked(true);
      void client.call('hold', undefined, opts).catch(() => {});
      const req = await running;
      client.destroy();
      await waitFor(() => req.signal.aborted, { what: 'the call aborted' });
      expect(told).toEqual([]);
    }
  });
});
