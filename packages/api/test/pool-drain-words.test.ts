import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger } from '@skein/core';
import { deferred, freePort, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, RpcServer } from '@skein/stream';
import { createClient, createServiceDispatch, implement, method, service } from '../src/index.js';
import { transport } from './harness.js';

// A typed client over a ConnPool whose server restarts gracefully: what the user sees of a call
// the draining server refused unrun.

const Bank = service('Bank', {
  charge: method<string, string>(),
  hold: method<void, string>(),
});

const cleanup = cleanups();

async function bank(name: string, port: number, ledger: string[], gate: Promise<void>): Promise<RpcServer> {
  const impl = implement(Bank, {
    charge: (id) => {
      ledger.push(`${id} ${name}`);
      return name;
    },
    hold: () => gate.then(() => name),
  });
  const server = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, services: [impl], logger: silentLogger }), closeWaitMs: 10_000 });
  cleanup.push(() => server.close());
  await server.listen(transport, `127.0.0.1:${port}`);
  return server;
}

/** A client whose pool's one connection goes to a server that is draining (a call of it holds it open). */
async function draining(transparentRetries: number | undefined, restart: boolean) {
  const port = await freePort();
  const ledger: string[] = [];
  const gate = deferred<void>();
  const a = await bank('A', port, ledger, gate.promise);
  const pool = new ConnPool({ transport, address: `127.0.0.1:${port}`, maxConnections: 1, transparentRetries });
  cleanup.push(() => pool.destroy());
  const client = createClient(Bank, pool, { codec: msgpackCodec });
  const held = client.hold();
  held.catch(() => undefined);
  await waitFor(() => a.stats().inFlight === 1, { what: 'the held call' });
  const closing = a.close();
  await waitFor(() => a.stats().listeners === 0, { what: 'A to stop listening' });
  if (restart) await bank('B', port, ledger, gate.promise);
  cleanup.push(async () => {
    gate.resolve();
    await within(closing, 10_000, 'A to close');
  });
  return { client, ledger };
}

describe('a typed call refused by a draining server', () => {
  it('runs on the restarted server, once, by default', async () => {
    const { client, ledger } = await draining(undefined, true);
    expect(await within(client.charge('1'), 10_000, 'the charge')).toBe('B');
    expect(ledger).toEqual(['1 B']);
  });

  it('not resent, says it did not run, after the method\'s name', async () => {
    const { client, ledger } = await draining(0, true);
    await expect(client.charge('1')).rejects.toMatchObject({
      code: ErrorCode.Closed,
      retry: 'safe',
      message: 'Bank.charge: rpc_closed: the server was closing; the call did not run (safe to retry)',
    });
    expect(ledger).toEqual([]);
  });
});
