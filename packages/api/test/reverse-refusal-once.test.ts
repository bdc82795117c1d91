import { msgpackCodec } from '@skein/codec-msgpack';
import { RpcError, silentLogger } from '@skein/core';
import { cleanups, deferred, within } from '@skein/test-utils';
import { FailoverPool, RpcServer } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, method, service, type CallContext } from '../src/index.js';
import { listening, transport } from './harness.js';

// At most once with a reverse call in the middle hop: the client's FailoverPool calls a Front,
// whose handler calls the client back over that connection (`ctx.caller`), not made for its call
// (without `{ ctx }`, which the drain would let through). The Front begins to close while its
// handler runs, so the reverse call is refused unsent (Closed, "never ran"); the handler passes
// that refusal on. It ran on the Front all the same: the client is told it may
// have run, and the pool does not move the call to the other Front.

const codec = msgpackCodec;
const Front = service('Front', { chargeBack: method<string, string>() });
const Peer = service('Peer', { charge: method<string, string>() });

const cleanup = cleanups();

describe("a Front's handler passing on its refused reverse call", () => {
  it('runs once: the client is told it may have run, and it is not moved to the other Front', { timeout: 20_000 }, async () => {
    const frontRuns = [0, 0];
    let peerRuns = 0;
    const started = deferred<number>();
    const goOn = deferred<void>();
    const servers: RpcServer[] = [];
    const addresses: string[] = [];
    for (let i = 0; i < 2; i++) {
      const chargeBack = async (id: string, ctx: CallContext) => {
        frontRuns[i]!++;
        started.resolve(i);
        await goOn.promise;
        return createClient(Peer, ctx.caller!, { codec }).charge(id);
      };
      const server = new RpcServer({ logger: silentLogger, dispatch: createServiceDispatch({ codec, logger: silentLogger, services: [implement(Front, { chargeBack })] }) });
      servers.push(server);
      addresses.push((await listening(server, cleanup)).address);
    }
    const serve = createServiceDispatch({ codec, logger: silentLogger, services: [implement(Peer, { charge: (id: string) => (peerRuns++, id) })] });
    const pool = new FailoverPool({ transport, servers: addresses, strategy: 'leader', retries: 2, retryBudget: { ratio: 10 }, pool: { stream: { serve } } });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    const front = createClient(Front, pool, { codec });

    const call = front.chargeBack('a').then(() => new Error('expected the call to fail'), (e: unknown) => e);
    const ran = await within(started.promise, 10_000, 'a Front runs the call');
    // Its server begins to close with the handler running: its reverse calls are refused from now on.
    const closed = servers[ran]!.close();
    goOn.resolve();
    const err = await within(call, 10_000, 'the call settles');
    await within(closed, 10_000, 'the Front closes');

    expect(frontRuns).toEqual(ran === 0 ? [1, 0] : [0, 1]);
    expect(peerRuns).toBe(0);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).retry).not.toBe('safe');
  });
});
