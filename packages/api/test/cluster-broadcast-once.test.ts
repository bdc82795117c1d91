import { msgpackCodec } from '@skein/codec-msgpack';
import { RpcServer } from '@skein/stream';
import { portOf, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createCluster, createServiceDispatch, implement, method, service } from '../src/index.js';
import { transport } from './harness.js';

// Two ids may name one server (a replaced server: its new registration is in while the old one
// has not left yet, as `add` allows). `$all` calls every server of a type: that server must run
// a call that is not idempotent once, not once per id that names it.

const Ledger = service('Ledger', {
  credit: method<number, number>(),
});

const cleanup = cleanups();

/** A Ledger server counting its handler's runs. */
async function ledgerServer(): Promise<{ address: string; runs: () => number }> {
  let runs = 0;
  const server = new RpcServer({
    dispatch: createServiceDispatch({
      codec: msgpackCodec,
      services: [implement(Ledger, { credit: (n) => (runs += n) })],
    }),
  });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return { address: `127.0.0.1:${portOf(a)}`, runs: () => runs };
}

describe('$all on a type where two ids name one server', () => {
  it('runs the call once on that server, under the id that joined first', async () => {
    const one = await ledgerServer();
    const two = await ledgerServer();
    const rpc = createCluster({
      codec: msgpackCodec,
      transport,
      // `ledger-1-next` is `ledger-1` restarted and registered again, spelt another way.
      types: { ledger: { services: [Ledger], servers: [{ id: 'ledger-1', address: one.address }, { id: 'ledger-2', address: two.address }] } },
    });
    cleanup.push(() => rpc.$cluster.close());
    rpc.$cluster.add('ledger', { id: 'ledger-1-next', address: `tcp://${one.address}` });

    const all = await rpc.ledger.$all.Ledger.credit(1);

    expect(one.runs()).toBe(1);
    expect(two.runs()).toBe(1);
    expect(all).toEqual([
      { server: 'ledger-1', ok: true, value: 1 },
      { server: 'ledger-2', ok: true, value: 1 },
    ]);
  });
});
