import { describe, it } from 'vitest';
import { runChaos } from '../src/chaos.js';
import { expectKept } from './expect-kept.js';

describe('chaos: kill -9 mid-flood', () => {
  it.each([1, 2] as const)('%i hop(s): no idempotent call lost, none run twice but for a killed answer, none failed as unrun after it ran', async (hops) => {
    const report = await runChaos({ hops, calls: 6000, seconds: 60, inFlight: 32 });
    expectKept(report);
  }, 120_000);
});
