// A call's deadline as the server gets it, when the client's ticker was idle (at `tickMs`) before
// the call: the time since the last tick was the client's idle time, not the call's, and must not
// be taken off what the call's head says is left.
import { ErrorCode, type RpcError } from '@skein/core';
import { ManualClock, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { startServer, u32 } from './harness.js';

const cleanup = cleanups();

/** A server whose action 7 (call or stream) answers at once, noting the time left it was given. */
async function remainingRecorder() {
  const seen: (number | undefined)[] = [];
  const s = await startServer({ 7: (req) => (seen.push(req.remainingMs()), u32(7)) });
  cleanup.push(() => s.server.close());
  // The client's clock is the test's: 900 ms pass with no tick (tickMs is 1 s), as on an idle client.
  const clock = new ManualClock();
  const client = await s.connect({ clock, keepaliveMs: 0 });
  cleanup.push(() => client.destroy());
  clock.advance(900);
  return { seen, client };
}

describe('a deadline sent after the client idled', () => {
  it('a call with timeoutMs 500 reaches the server with its 500 ms, not 500 less the idle time', async () => {
    const { seen, client } = await remainingRecorder();
    const reply = await client.call(7, undefined, { timeoutMs: 500 }).catch((e: RpcError) => e);
    expect((reply as RpcError).code, String((reply as RpcError).message)).toBeUndefined();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeGreaterThan(400); // 500 less the loopback's trip
  });

  it('a stream with timeoutMs 500 opens with its 500 ms, not answered "deadline passed" unrun', async () => {
    const { seen, client } = await remainingRecorder();
    const s = client.openStream(7, u32(1), { timeoutMs: 500 });
    const result = await s.result.catch((e: RpcError) => e);
    expect((result as RpcError).code, String((result as RpcError).message)).not.toBe(ErrorCode.Timeout);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeGreaterThan(400);
  });
});
