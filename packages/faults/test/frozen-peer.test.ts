import { describe, it } from 'vitest';
import { runFrozenPeer } from '../src/frozen-peer.js';
import { expectKept } from './expect-kept.js';

describe('frozen peer (SIGSTOP)', () => {
  it('is found by keepalive, gets no call until it answers again, and serves again after SIGCONT', async () => {
    const report = await runFrozenPeer({ keepaliveMs: 200, keepaliveTimeoutMs: 600, tickMs: 50, frozenSeconds: 2, inFlight: 4 });
    expectKept(report);
  }, 120_000);
});
