import { describe, it } from 'vitest';
import { runSlowloris } from '../src/slowloris.js';
import { expectKept } from './expect-kept.js';

describe('slowloris', () => {
  it('closes every connection that dribbles header or ping bytes, and the control client never fails', async () => {
    const report = await runSlowloris({ dribblers: 100, readTimeoutMs: 1000 });
    expectKept(report);
  }, 120_000);
});
