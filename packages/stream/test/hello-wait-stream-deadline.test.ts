import { ErrorCode, type RpcError, silentLogger } from '@skein/core';
import { ManualClock, cleanups, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { startServer, u32 } from './harness.js';

// A stream with a timeoutMs opened on a ClientStream before its hello is answered (one just
// connected, as a handler that connects per call does) waits for the answer, then opens with what is left
// of its timeout, read off the clock as a held call's is: the ticks alone leave out up to a
// period since the last one, and that time went to the server as time its caller does not wait
// (so a hop's `{ ctx }` stream outlived the call it was made for). One whose time ran out while it
// waited is never opened: Timeout, `retry: 'safe'`, not a deadline of 0 ms its server answers
// Timeout unrun, which the client reads as "may have run".

const cleanup = cleanups();

describe("a stream opened while its connection waits for the hello's answer", () => {
  it('opens with what is left of its timeout, read off the clock: 1.55 s into 5, the 3.45 s left, not the 3.5 s its ticks say', async () => {
    const { clock, client, seen } = await fresh();
    const stream = client.openStream('feed', undefined, { timeoutMs: 5_000 });
    // The hello's answer cannot be read before this turn ends: 15 of the stream's 100 ms ticks, and half of the next.
    clock.advance(1_550);
    await within(stream.result, 10_000, 'the stream');
    expect(seen).toEqual([3_450]);
  });

  it("whose time ran out while it waited is never opened: Timeout, retry 'safe'", async () => {
    const { clock, client, seen } = await fresh();
    const stream = client.openStream('feed', undefined, { timeoutMs: 1_000 });
    // Past its 1 s, short of the period more (50 ms: a 1 s timeout quickens the ticks) its expiry on them allows.
    clock.advance(1_020);
    const err = (await within(stream.result.catch((e: RpcError) => e), 10_000, 'the stream')) as RpcError;
    expect([err.code, err.retry]).toEqual([ErrorCode.Timeout, 'safe']);
    // The server never saw it: the next stream is the first it gets.
    await within(client.openStream('feed', undefined, { timeoutMs: 60_000 }).result, 10_000, 'a stream after it');
    expect(seen).toHaveLength(1);
  });
});

/** A server and a ClientStream on one manual clock, the hello not answered yet. */
async function fresh() {
  const clock = new ManualClock();
  const seen: number[] = [];
  const s = await startServer({ feed: (req) => (seen.push(req.deadline! - clock.time), u32(1)) }, { clock, closeWaitMs: 0, logger: silentLogger });
  cleanup.push(() => s.server.close());
  // keepaliveMs: 0: the manual clock jumps seconds, and a ping unanswered within a jump would close the stream.
  const client = await s.connect({ clock, tickMs: 100, keepaliveMs: 0, logger: silentLogger });
  cleanup.push(() => client.destroy());
  expect(client.hello.dialect).toBe('pending');
  return { clock, client, seen };
}
