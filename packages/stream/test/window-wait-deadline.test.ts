import { ErrorCode, type RpcError } from '@skein/core';
import { ManualClock, cleanups, deferred, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { startServer, u32 } from './harness.js';

// A call with a timeoutMs of its own that waits for room in its ClientStream's window goes with
// what is left of its timeout when it leaves the wait: read off the clock, not off the stream's
// ticks alone, which leave out up to a period since the last one and would give the server time
// the caller does not wait. One whose time ran out while it waited (its expiry is checked on the
// ticks, a period late at most) is never sent: Timeout, `retry: 'safe'`, not a deadline of 0 ms
// that its server answers Timeout unrun, which the client reads as "may have run".

const cleanup = cleanups();

describe('a call that waited for room in the window', () => {
  it("carries what is left of its timeout, read off the clock: 1.55 s into 5, the 3.45 s left, not the 3.5 s its ticks say", async () => {
    const { clock, client, first, seen } = await primed();
    const call = client.call(2, undefined, { timeoutMs: 5_000 });
    // 15 of the stream's 100 ms ticks, and half of the next.
    clock.advance(1_550);
    first.resolve();
    await within(call, 10_000, 'the call that waited');
    expect(seen).toEqual([3_450]);
  });

  it("whose time ran out while it waited is never sent: Timeout, retry 'safe'", async () => {
    const { clock, client, first, seen } = await primed();
    const call = client.call(2, undefined, { timeoutMs: 1_000 }).catch((e: RpcError) => e);
    // Past its 1 s, short of the period more (50 ms: a 1 s timeout quickens the ticks) its expiry on them allows.
    clock.advance(1_020);
    first.resolve();
    const err = (await within(call, 10_000, 'the call that waited')) as RpcError;
    expect([err.code, err.retry]).toEqual([ErrorCode.Timeout, 'safe']);
    // The server never saw it: the next call is the first 2 it gets.
    await within(client.call(2, undefined, { timeoutMs: 60_000 }), 10_000, 'a call after it');
    expect(seen).toHaveLength(1);
  });
});

/** A stream whose window of 1 is taken by call 1, which answers when `first` resolves. */
async function primed() {
  const clock = new ManualClock();
  const first = deferred<void>();
  const seen: number[] = [];
  const s = await startServer(
    {
      1: async () => (await first.promise, u32(1)),
      2: (req) => (seen.push(req.deadline! - clock.time), u32(2)),
    },
    { clock, closeWaitMs: 0 },
  );
  cleanup.push(() => s.server.close());
  // keepaliveMs: 0: the manual clock jumps seconds, and a ping unanswered within a jump would close the stream.
  const client = await s.connect({ clock, window: 1, tickMs: 100, keepaliveMs: 0 });
  cleanup.push(() => client.destroy());
  await client.ping(); // the hello is answered: calls go with their heads at once
  const held = client.call(1);
  held.catch(() => undefined);
  await waitFor(() => s.server.stats().inFlight === 1, { what: 'call 1 on the server' });
  cleanup.push(() => first.resolve());
  return { clock, client, first, seen };
}
