import { describe, it } from 'vitest';
import { MiB } from '../src/memory.js';
import { runSoak } from '../src/soak.js';
import { expectKept } from './expect-kept.js';

describe('soak', () => {
  it('floods without a failure, RSS flat once warm, and leaves no handle in either process after close', async () => {
    const report = await runSoak({ seconds: 3, inFlight: 8, sampleMs: 250, rssSlack: 16 * MiB });
    expectKept(report);
  }, 120_000);
});
