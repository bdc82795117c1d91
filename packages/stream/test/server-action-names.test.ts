import { silentLogger } from '@skein/core';
import { afterEach, expect, it, vi } from 'vitest';
import type { ClientStream } from '../src/index.js';
import { ActionNames } from '../src/wire/action-names.js';
import { startServer } from './harness.js';

/*
 * A server's connections share one table of the action names they decoded: a server with many
 * clients, each calling the same few methods, decodes each name once, not once per connection,
 * and an idle connection that made a call holds no table of its own (docs/benchmarks.md, "Many
 * connections, a call each"). What the names are is the server's own API; the per-connection
 * strings that may be secrets (a head's metadata) stay per connection (recent-strings.ts).
 */

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const f of cleanup.splice(0).reverse()) await f();
});

it("decodes an action name once for all of a server's connections", async () => {
  const s = await startServer({ 'Calc.add': (req) => req.msg, 'Calc.neg': (req) => req.msg }, { logger: silentLogger });
  cleanup.push(() => s.server.close());
  const remember = vi.spyOn(ActionNames.prototype as unknown as { remember: () => string }, 'remember');
  const clients: ClientStream[] = [];
  for (let i = 0; i < 40; i++) {
    const c = await s.connect({ logger: silentLogger, keepaliveMs: 0 });
    cleanup.push(() => c.destroy());
    clients.push(c);
  }
  for (const c of clients) expect((await c.call('Calc.add', new Uint8Array([1]))).msg).toEqual(new Uint8Array([1]));
  for (const c of clients) expect((await c.call('Calc.neg', new Uint8Array([2]))).msg).toEqual(new Uint8Array([2]));
  const decoded = remember.mock.results.map((r) => r.value as string);
  expect(decoded.sort()).toEqual(['Calc.add', 'Calc.neg']);
});
