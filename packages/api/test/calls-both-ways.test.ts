import { msgpackCodec } from '@skein/codec-msgpack';
import { ClientStream, RpcServer } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, service } from '../src/index.js';
import { transport } from './harness.js';
import { cleanups } from '@skein/test-utils';

const cleanup = cleanups();

const codec = msgpackCodec;
/** Served by the server. */
const Billing = service('Billing', { charge: method<{ user: string; cents: number }, string>() });
/** Served by the service that connects: the server calls it back over the same connection. */
const Wallet = service('Wallet', { balance: method<{ user: string }, number>() });

describe('typed calls both ways on one connection', () => {
  it('a handler calls the connected peer through ctx.caller, typed, while the peer calls it', async () => {
    const server = new RpcServer({
      dispatch: createServiceDispatch({
        codec,
        services: [
          implement(Billing, {
            charge: async ({ user, cents }, ctx) => {
              const wallet = createClient(Wallet, ctx.caller!, { codec });
              return (await wallet.balance({ user })) >= cents ? `charged ${user}` : `short ${user}`;
            },
          }),
        ],
      }),
    });
    cleanup.push(() => server.close());
    const a = await server.listen(transport, '127.0.0.1:0');
    const balances: Record<string, number> = { ann: 500, bob: 50 };
    let asked = 0;
    const peer = await ClientStream.connect({
      transport,
      address: `127.0.0.1:${(a as { port: number }).port}`,
      serve: createServiceDispatch({ codec, services: [implement(Wallet, { balance: ({ user }) => (asked++, balances[user] ?? 0) })] }),
    });
    cleanup.push(() => peer.destroy());
    const billing = createClient(Billing, peer, { codec });
    const users = Array.from({ length: 300 }, (_, i) => (i % 2 ? 'ann' : 'bob'));
    const got = await Promise.all(users.map((user) => billing.charge({ user, cents: 100 })));
    expect(got).toEqual(users.map((u) => (u === 'ann' ? `charged ${u}` : `short ${u}`)));
    expect(asked).toBe(300);
    // The server can also start calls of its own on the connection.
    const [conn] = server.openConnections();
    expect(await createClient(Wallet, conn!.caller!, { codec }).balance({ user: 'ann' })).toBe(500);
  });
});
