import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { createClient, createServiceDispatch, implement, type CallContext } from '@skein/api';
import { FailoverPool, RpcServer } from '@skein/stream';
import { cleanups, deferred, portOf, startTcpRelay, within, type Deferred } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { startPool, transport } from './harness.js';
import { Back, Front } from './fixtures/onward.mjs';

// At most once through three hops with a WorkerPool in the middle: client → FailoverPool →
// servers whose dispatch is a WorkerPool (fixtures/onward.mjs), whose workers call on to Back
// servers through a FailoverPool of their own with `{ ctx }` → Back, in this process, counting
// each run per call id. At each moment the onward call can fail while it runs (its link cut, the
// middle server draining, the client's cancel, the attempt's deadline), the last hop runs a call
// that is not idempotent at most once and the client's error says it may have run; an
// idempotent call still succeeds where a server is left.

const cleanup = cleanups();
const ONWARD = new URL('./fixtures/onward.mjs', import.meta.url);
const codec = msgpackCodec;

/** Runs per call id at Back, and per id when its first run began and why its signal aborted. */
class Runs {
  readonly count = new Map<string, number>();
  private readonly began = new Map<string, Deferred<unknown>>();
  private readonly abortedAt = new Map<string, Deferred<unknown>>();

  ran(id: string, ctx: CallContext): void {
    this.count.set(id, (this.count.get(id) ?? 0) + 1);
    ctx.signal.addEventListener('abort', () => this.aborted(id).resolve(ctx.signal.reason), { once: true });
    this.started(id).resolve(undefined);
  }

  started(id: string): Deferred<unknown> {
    return once(this.began, id);
  }

  /** Resolved with the reason Back's signal aborted with. */
  aborted(id: string): Deferred<unknown> {
    return once(this.abortedAt, id);
  }
}

const once = (map: Map<string, Deferred<unknown>>, id: string): Deferred<unknown> => {
  let d = map.get(id);
  if (!d) map.set(id, (d = deferred<unknown>()));
  return d;
};

/** A Back server whose `charge` and `peek` count their runs, then answer as `handler` does. */
async function backServer(runs: Runs, handler: (id: string) => string | Promise<string>): Promise<string> {
  const run = (id: string, ctx: CallContext) => (runs.ran(id, ctx), handler(id));
  const server = new RpcServer({ dispatch: createServiceDispatch({ codec, logger: silentLogger, services: [implement(Back, { charge: run, peek: run })] }) });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return `127.0.0.1:${portOf(a)}`;
}

/** A server whose dispatch is a WorkerPool of one worker running fixtures/onward.mjs. */
async function frontServer() {
  const pool = await startPool({ module: ONWARD, workers: 1, logger: silentLogger });
  cleanup.push(() => pool.close());
  const server = new RpcServer({ dispatch: pool, closeWaitMs: 10_000 });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return { server, address: `127.0.0.1:${portOf(a)}` };
}

/** A client of the Fronts at `addresses` through a FailoverPool, the first the leader. */
function frontClient(addresses: string[]) {
  const pool = new FailoverPool({ transport, servers: addresses, strategy: 'leader', retries: 2, retryBudget: { ratio: 10 } });
  cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
  return createClient(Front, pool, { codec });
}

const failure = (p: Promise<unknown>): Promise<unknown> => p.then(() => new Error('expected the call to fail'), (e: unknown) => e);

describe("a WorkerPool's worker calls on to Back", () => {
  it("the worker's link to Back is cut while Back runs the calls: may have run, not moved; an idempotent call moves to the other Back", { timeout: 30_000 }, async () => {
    const runs = new Runs();
    const hold = deferred<string>();
    const b1 = await backServer(runs, () => hold.promise);
    const b2 = await backServer(runs, (id) => id);
    const relay = await startTcpRelay(b1);
    cleanup.push(() => relay.close());
    const backs = [relay.address, b2];
    const client = frontClient([(await frontServer()).address]);
    const charged = failure(client.pay({ id: 'a', backs }));
    const looked = client.look({ id: 'b', backs });
    await Promise.all([runs.started('a').promise, runs.started('b').promise]);
    relay.cut();
    const err = await charged;
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent' });
    expect(await looked).toBe('saw b');
    hold.resolve('late');
    expect([runs.count.get('a'), runs.count.get('b')]).toEqual([1, 2]);
  });

  it('the middle server drains while its worker runs the call: it is answered, calls sent to it meanwhile move to the other server; each runs once', { timeout: 30_000 }, async () => {
    const runs = new Runs();
    const hold = deferred<string>();
    const backs = [await backServer(runs, (id) => (id === 'run' ? hold.promise : id))];
    const f1 = await frontServer();
    const f2 = await frontServer();
    const client = frontClient([f1.address, f2.address]);
    const running = client.pay({ id: 'run', backs });
    await runs.started('run').promise;
    const closing = f1.server.close();
    expect(await Promise.all([client.pay({ id: 'after', backs }), client.look({ id: 'seen', backs })])).toEqual(['paid after', 'saw seen']);
    hold.resolve('run');
    expect(await running).toBe('paid run');
    await closing;
    for (const id of ['run', 'after', 'seen']) expect([id, runs.count.get(id)]).toEqual([id, 1]);
  });

  it("the client cancels while Back runs the call: Cancelled, never retried; the cancel reaches Back through the worker; it ran once", { timeout: 30_000 }, async () => {
    const runs = new Runs();
    const backs = [await backServer(runs, () => new Promise<string>(() => {}))];
    const client = frontClient([(await frontServer()).address, (await frontServer()).address]);
    const ac = new AbortController();
    const call = failure(client.pay({ id: 'c', backs }, { signal: ac.signal }));
    await runs.started('c').promise;
    ac.abort();
    expect(await call).toMatchObject({ code: ErrorCode.Cancelled, retry: 'never' });
    // The cancel, not the pool's default deadline (20 s) that the call carries too.
    expect(await runs.aborted('c').promise).toMatchObject({ code: ErrorCode.Cancelled });
    expect(runs.count.get('c')).toBe(1);
  });

  it("the attempt's deadline passes while Back runs it: Timeout, may have run, not moved though time is left; the deadline reaches Back through the worker; it ran once", { timeout: 30_000 }, async () => {
    const runs = new Runs();
    const backs = [await backServer(runs, () => new Promise<string>(() => {}))];
    const client = frontClient([(await frontServer()).address, (await frontServer()).address]);
    const err = await failure(client.pay({ id: 'd', backs }, { timeoutMs: 20_000, attemptTimeoutMs: 500 }));
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'idempotent' });
    // Its own deadline or the cancel the client sends when it ends, whichever reaches it first.
    expect([ErrorCode.Timeout, ErrorCode.Cancelled]).toContain(((await runs.aborted('d').promise) as RpcError).code);
    expect(runs.count.get('d')).toBe(1);
  });
});
