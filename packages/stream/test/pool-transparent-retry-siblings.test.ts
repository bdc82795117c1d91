import { deferred, freePort, waitFor, within, type Deferred, cleanups } from '@skein/test-utils';
import { expect, it } from 'vitest';
import { ConnPool } from '../src/index.js';
import { transport } from './harness.js';
import { str, textOf } from './pool-harness.js';
import { generation as startGeneration } from './restart-generation.js';

// A graceful restart behind one address, with a pool of several connections to the old server:
// the call refused on one of them (bare Closed) must be resent where it can run, on a connection
// to whoever listens now, not on a sibling connection to the same draining server, which refuses
// it again and so fails a call the restart's successor would have run.

const cleanup = cleanups();


const generation = (name: string, port: number, ledger: string[], gate: Deferred<void>) => startGeneration(name, port, ledger, gate, cleanup);

it('a call refused by a draining server is resent to its successor, not to a sibling connection to the draining one', async () => {
  const port = await freePort();
  const ledger: string[] = [];
  const gate = deferred<void>();
  const a = await generation('A', port, ledger, gate);
  const pool = new ConnPool({ transport, address: `127.0.0.1:${port}`, maxConnections: 2, stream: { window: 2 } });
  cleanup.push(() => pool.destroy());
  // A burst past one connection's window opens the second.
  await within(Promise.all(['w1', 'w2', 'w3'].map((id) => pool.call('charge', str(id)))), 10_000, 'the warm-up');
  await waitFor(() => pool.connections === 2, { what: 'two connections' });
  // One held call on each: both stay open through A's drain.
  const held = [pool.call('hold'), pool.call('hold')];
  for (const h of held) h.catch(() => undefined);
  await waitFor(() => a.stats().inFlight === 2, { what: 'a held call on each connection' });
  const closingA = a.close();
  await waitFor(() => a.stats().listeners === 0, { what: 'A to stop listening' });
  await generation('B', port, ledger, gate);
  const outcome = await within(pool.call('charge', str('1')).then(textOf, (e: unknown) => e), 10_000, 'the charge');
  expect(outcome).toBe('B');
  expect(ledger.filter((l) => !l.startsWith('w'))).toEqual(['1 B']);
  gate.resolve();
  await within(Promise.all(held), 10_000, 'the held calls');
  await within(closingA, 10_000, 'A to close');
});
