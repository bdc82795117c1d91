import { describe, it } from 'vitest';
import { runFuzz } from '../src/fuzz.js';
import { expectKept } from './expect-kept.js';

// The scenarios start the built fault server (dist/fault-server.js): `pnpm build` first.
describe('fuzz', () => {
  it('survives random and mutated frames from many connections: control calls all succeed, every bad connection is closed after its answers, memory follows bytes sent, not claimed', async () => {
    const report = await runFuzz({ frames: 20_000, seconds: 60, connections: 8, framesPerConnection: 100, claims: 8, seed: 13 });
    expectKept(report);
  }, 120_000);
});
