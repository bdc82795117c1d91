import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { cleanups, deferred, waitFor, type Deferred } from '@skein/test-utils';
import { RpcServer, type FailoverPool } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, type CallContext } from '../src/index.js';
import { listening, transport } from './harness.js';
import { Back, Front, Ledger, backServer, codec, failure, frontServer, fronts, hopPool, refusing, relayTo } from './hop-chain.js';

// At most once through several hops, at each moment a hop can fail that three-hops-once.test.ts
// leaves out: the middle hop (Front) draining, timing out or cancelled while its onward call
// runs; the request to the last hop (Back) written but never read when its link is cut, or
// when Back drains (its goodbye); Back restarting on its address; a link that goes silent or
// holds Back's answer; Front's answer cut on its way to the client; and a fourth hop. `pay` is
// not idempotent, `look` is: every run is counted per call id at each hop. A call that may
// have run is never run again, and its error says so (`retry: 'idempotent'`); an idempotent
// one still succeeds where a server is left.

const cleanup = cleanups();

/** Resolved per call id, with its reason, once a Back handler's signal aborted: its call was given up downstream. */
class Aborts {
  private readonly seen = new Map<string, Deferred<unknown>>();

  of(id: string): Deferred<unknown> {
    let d = this.seen.get(id);
    if (!d) this.seen.set(id, (d = deferred<unknown>()));
    return d;
  }

  /** A handler that notes its signal's abort, and never answers. */
  hang(id: string, ctx: CallContext): Promise<string> {
    ctx.signal.addEventListener('abort', () => this.of(id).resolve(ctx.signal.reason), { once: true });
    return new Promise<string>(() => {});
  }
}

/** A client of the Fronts at `addresses` through a FailoverPool (the first is the leader). */
const frontClient = (addresses: string[], opts: Parameters<typeof hopPool>[2] = {}) => createClient(Front, hopPool(cleanup, addresses, opts), { codec });

/** A Back client over `pool`, for Front servers made one by one. */
const backClient = (pool: FailoverPool) => createClient(Back, pool, { codec });

/** Calls on the wire from `pool` to `address` (its ConnPool's `inFlight`). */
const onWire = (pool: FailoverPool, address: string): number => pool.stats().find((s) => s.address === address)?.inFlight ?? 0;

describe('the middle hop fails while its onward call runs', () => {
  it('Front drains: the running call is answered, calls sent to it meanwhile move to the other Front; each runs once', async () => {
    const ledger = new Ledger();
    const hold = deferred<string>();
    const back = await backServer(cleanup, ledger, (id) => (id === 'run' ? hold.promise : id));
    const backs = backClient(hopPool(cleanup, [back.address]));
    const f1 = await frontServer(cleanup, ledger, backs, { closeWaitMs: 10_000 });
    const f2 = await frontServer(cleanup, ledger, backs);
    const client = frontClient([f1.address, f2.address]);
    const running = client.pay('run');
    await ledger.started('run').promise;
    const closing = f1.server.close();
    const later = [client.pay('after'), client.look('seen')];
    expect(await Promise.all(later)).toEqual(['paid after', 'saw seen']);
    hold.resolve('run');
    expect(await running).toBe('paid run');
    await closing;
    expect(ledger.most()).toBe(1);
    for (const id of ['run', 'after', 'seen']) expect([id, ledger.front.get(id), ledger.back.get(id)]).toEqual([id, 1, 1]);
  });

  it("Front's handlerTimeoutMs ends: Timeout, may have run, not moved; Back's call is cancelled; an idempotent call moves and succeeds", async () => {
    const ledger = new Ledger();
    const aborts = new Aborts();
    // Each id's first run at Back hangs (until its signal aborts), its second answers.
    const back = await backServer(cleanup, ledger, (id, ctx) => (ledger.back.get(id) === 1 ? aborts.hang(id, ctx) : id));
    const client = frontClient(await fronts(cleanup, ledger, [back.address], {}, { dispatch: { handlerTimeoutMs: 200 } }));
    const err = await failure(client.pay('p', { timeoutMs: 20_000 }));
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'idempotent' });
    await aborts.of('p').promise;
    expect([ledger.front.get('p'), ledger.back.get('p')]).toEqual([1, 1]);
    expect(await client.look('l', { timeoutMs: 20_000 })).toBe('saw l');
    expect([ledger.front.get('l'), ledger.back.get('l')]).toEqual([2, 2]);
  });

  it("the client cancels: Cancelled, never retried; Back's call is cancelled; each ran once", async () => {
    const ledger = new Ledger();
    const aborts = new Aborts();
    const back = await backServer(cleanup, ledger, (id, ctx) => aborts.hang(id, ctx));
    const client = frontClient(await fronts(cleanup, ledger, [back.address]));
    const ac = new AbortController();
    const call = failure(client.pay('c', { signal: ac.signal }));
    await ledger.started('c').promise;
    ac.abort();
    expect(await call).toMatchObject({ code: ErrorCode.Cancelled, retry: 'never' });
    // The cancel, not the pool's default deadline (20 s) that the call carries too.
    expect(await aborts.of('c').promise).toMatchObject({ code: ErrorCode.Cancelled });
    expect([ledger.front.get('c'), ledger.back.get('c')]).toEqual([1, 1]);
  });
});

describe('the request to the last hop is lost on its way', () => {
  /** Front calls on through a pool of two Backs, Back 1 behind a relay the test holds or cuts; warmed by one call. */
  async function relayedToBack() {
    const ledger = new Ledger();
    const b1 = await backServer(cleanup, ledger, (id) => id);
    const b2 = await backServer(cleanup, ledger, (id) => id);
    const relay = await relayTo(cleanup, b1.address);
    const backPool = hopPool(cleanup, [relay.address, b2.address]);
    const f = await frontServer(cleanup, ledger, backClient(backPool));
    const client = frontClient([f.address]);
    expect(await client.pay('warm')).toBe('paid warm');
    return { ledger, b1, relay, backPool, client };
  }

  it('written, held by the link, then the link is cut: may have run (it did not), not moved; an idempotent call moves to the other Back', async () => {
    const { ledger, relay, backPool, client } = await relayedToBack();
    relay.holdClients();
    const charged = failure(client.pay('h'));
    const looked = client.look('k');
    await waitFor(() => onWire(backPool, relay.address) === 2, { what: "both onward requests written to Back 1's link" });
    relay.cut();
    const err = await charged;
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent' });
    expect(await looked).toBe('saw k');
    expect([ledger.front.get('h'), ledger.back.get('h')]).toEqual([1, undefined]);
    expect([ledger.front.get('k'), ledger.back.get('k')]).toEqual([1, 1]);
  });

  it("written, held by the link while Back drains: its goodbye says it never ran, so even the call that is not idempotent moves to the other Back and runs once", async () => {
    const { ledger, b1, relay, backPool, client } = await relayedToBack();
    relay.holdClients();
    const charged = client.pay('g');
    await waitFor(() => onWire(backPool, relay.address) === 1, { what: "the onward request written to Back 1's link" });
    const closing = b1.server.close();
    expect(await charged).toBe('paid g');
    await closing;
    relay.releaseClients();
    expect([ledger.front.get('g'), ledger.back.get('g')]).toEqual([1, 1]);
  });
});

describe('the last hop restarts, or its link fails, while it runs the call', () => {
  it('Back is stopped with the call running and listens again on its address: may have run, not moved; the next call runs once on the new Back', async () => {
    const ledger = new Ledger();
    const first = await backServer(cleanup, ledger, () => new Promise<string>(() => {}), { closeWaitMs: 1 });
    const client = frontClient(await fronts(cleanup, ledger, [first.address]));
    const call = failure(client.pay('r'));
    await ledger.started('r').promise;
    await first.server.close();
    const again = new RpcServer({ dispatch: createServiceDispatch({ codec, logger: silentLogger, services: [implement(Back, { charge: (id: string) => (ledger.ran('back', id), `new ${id}`), peek: (id: string) => id })] }) });
    cleanup.push(() => again.close());
    await again.listen(transport, first.address);
    const err = await call;
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent' });
    expect(await client.pay('next')).toBe('paid new next');
    expect([ledger.front.get('r'), ledger.back.get('r')]).toEqual([1, 1]);
    expect([ledger.front.get('next'), ledger.back.get('next')]).toEqual([1, 1]);
  });

  it("the link to Back goes silent (bytes dropped, nothing closed): Front's keepalive ends it; may have run, not moved; an idempotent call moves and succeeds", async () => {
    const ledger = new Ledger();
    const hold = deferred<string>();
    const b1 = await backServer(cleanup, ledger, () => hold.promise);
    const b2 = await backServer(cleanup, ledger, (id) => id);
    const relay = await relayTo(cleanup, b1.address);
    const client = frontClient(await fronts(cleanup, ledger, [relay.address, b2.address], { pool: { stream: { keepaliveMs: 100, keepaliveTimeoutMs: 200 } } }));
    const charged = failure(client.pay('s', { timeoutMs: 20_000 }));
    const looked = client.look('t', { timeoutMs: 20_000 });
    await Promise.all([ledger.started('s').promise, ledger.started('t').promise]);
    relay.stall();
    const err = await charged;
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent' });
    hold.resolve('late');
    expect(await looked).toBe('saw t');
    expect([ledger.front.get('s'), ledger.back.get('s')]).toEqual([1, 1]);
    // Once on Back 1 (its answer lost with the link), once on Back 2.
    expect([ledger.front.get('t'), ledger.back.get('t')]).toEqual([1, 2]);
  });

  it("Back's answer is held on the link past the attempt's deadline: Timeout, may have run, not moved though time is left; the late answer is dropped", async () => {
    const ledger = new Ledger();
    const answered = deferred<void>();
    const b1 = await backServer(cleanup, ledger, (id) => (id === 'd' && answered.resolve(), id));
    const b2 = await backServer(cleanup, ledger, (id) => id);
    const relay = await relayTo(cleanup, b1.address);
    const client = frontClient(await fronts(cleanup, ledger, [relay.address, b2.address]));
    expect(await client.look('warm')).toBe('saw warm');
    relay.hold();
    const err = await failure(client.pay('d', { timeoutMs: 20_000, attemptTimeoutMs: 500 }));
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'idempotent' });
    await answered.promise;
    relay.release();
    expect([ledger.front.get('d'), ledger.back.get('d')]).toEqual([1, 1]);
  });
});

describe("the first hop's link fails", () => {
  it.each([
    ['pay', 'may have run, not moved'],
    ['look', 'an idempotent call moves to the other Front and succeeds'],
  ] as const)("Front's answer to %s is cut mid-way to the client: %s", async (method, _outcome) => {
    const ledger = new Ledger();
    const big = 'x'.repeat(2 * 1024 * 1024);
    const back = await backServer(cleanup, ledger, () => big);
    const [f1, f2] = await fronts(cleanup, ledger, [back.address]);
    // Every connection through it at 256 KB/s: an answer of 2 MB takes seconds, cut once 64 KB of it came.
    const relay = await relayTo(cleanup, f1!, { bytesPerSecond: 256 * 1024 });
    const client = frontClient([relay.address, f2!]);
    const result = (method === 'pay' ? client.pay('m', { timeoutMs: 30_000 }) : client.look('m', { timeoutMs: 30_000 })).then((v) => v.length, (e: unknown) => e);
    await waitFor(() => relay.fromTarget() > 64 * 1024, { what: "part of Front's answer" });
    relay.cut();
    if (method === 'pay') {
      expect(await result).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent' });
      expect([ledger.front.get('m'), ledger.back.get('m')]).toEqual([1, 1]);
    } else {
      expect(await result).toBe('saw '.length + big.length);
      expect([ledger.front.get('m'), ledger.back.get('m')]).toEqual([2, 2]);
    }
  });
});

describe('four hops: client → Front → Mid → Back', () => {
  /** Two Mids serving Back's methods by calling on to the Backs at `backs`, counting their runs as `mid`. */
  async function mids(ledger: Ledger, backs: string[]): Promise<string[]> {
    const onward = backClient(hopPool(cleanup, backs));
    const run = (call: 'charge' | 'peek') => async (id: string, ctx: CallContext) => {
      ledger.ran('mid', id);
      return onward[call](id, { ctx });
    };
    const addresses: string[] = [];
    for (let i = 0; i < 2; i++) {
      const server = new RpcServer({ dispatch: createServiceDispatch({ codec, logger: silentLogger, services: [implement(Back, { charge: run('charge'), peek: run('peek') })] }) });
      addresses.push((await listening(server, cleanup)).address);
    }
    return addresses;
  }

  it('the link from Mid to Back is cut while Back runs the call: may have run, through both hops between; each hop ran it once', async () => {
    const ledger = new Ledger();
    const hold = deferred<string>();
    const b1 = await backServer(cleanup, ledger, () => hold.promise);
    const b2 = await backServer(cleanup, ledger, (id) => id);
    const relay = await relayTo(cleanup, b1.address);
    const client = frontClient(await fronts(cleanup, ledger, await mids(ledger, [relay.address, b2.address])));
    const call = failure(client.pay('x'));
    await ledger.started('x').promise;
    relay.cut();
    const err = await call;
    hold.resolve('late');
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent' });
    expect([ledger.front.get('x'), ledger.mid.get('x'), ledger.back.get('x')]).toEqual([1, 1, 1]);
  });

  it.each([ErrorCode.Closed, ErrorCode.Overloaded])("every Back refuses it unrun (%s): Mid ran, so the refusal reaches the client as may have run through both hops between, and no hop runs it twice", async (code) => {
    const ledger = new Ledger();
    const client = frontClient(await fronts(cleanup, ledger, await mids(ledger, [await refusing(cleanup, code), await refusing(cleanup, code)])));
    const err = await failure(client.pay('y'));
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code, retry: 'idempotent' });
    expect([ledger.front.get('y'), ledger.mid.get('y')]).toEqual([1, 1]);
  });

});
