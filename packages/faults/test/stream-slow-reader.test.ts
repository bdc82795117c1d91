import { describe, it } from 'vitest';
import { runSlowReader } from '../src/stream-slow-reader.js';
import { expectKept } from './expect-kept.js';

describe('stream slow reader: credit holds every writer back', () => {
  for (const hops of [1, 2] as const) {
    it(`${hops} hop${hops === 2 ? 's' : ''}: a client that stops reading holds the back to what it read plus the windows`, async () => {
      expectKept(await runSlowReader({ hops, frozen: false }));
    }, 60_000);
    it(`${hops} hop${hops === 2 ? 's' : ''}: a frozen client that claimed 64 MiB costs the servers their send buffer, not the window`, async () => {
      expectKept(await runSlowReader({ hops, frozen: true }));
    }, 60_000);
  }
});
