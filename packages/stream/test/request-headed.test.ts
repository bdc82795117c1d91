import { describe, expect, it } from 'vitest';
import { startServer } from './harness.js';
import { cleanups } from '@skein/test-utils';

const cleanup = cleanups();

describe('ServerRequest.headed', () => {
  it('tells a call that can be cancelled alone (a deadline, metadata, a signal) from a plain one, without making its signal', async () => {
    const seen: { headed: boolean; ownSignal: boolean }[] = [];
    const s = await startServer({
      7: (req) => {
        const headed = req.headed;
        seen.push({ headed, ownSignal: req.signal !== req.conn.signal });
        return new Uint8Array([headed ? 1 : 0]);
      },
    });
    cleanup.push(() => s.server.close());
    const client = await s.connect();
    cleanup.push(() => client.close());
    await client.ping();
    await client.call(7);
    await client.call(7, undefined, { timeoutMs: 60_000 });
    await client.call(7, undefined, { metadata: { k: 'v' } });
    await client.call(7, undefined, { signal: new AbortController().signal });
    await client.call(7);
    expect(seen.map((x) => x.headed)).toEqual([false, true, true, true, false]);
    // What it says is what `signal` is: the call's own, or its connection's.
    expect(seen.every((x) => x.headed === x.ownSignal)).toBe(true);
  });
});
