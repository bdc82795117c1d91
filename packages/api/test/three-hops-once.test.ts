import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { cleanups, deferred, olderSkeinClient, waitFor, type TcpRelay } from '@skein/test-utils';
import { FailoverPool, RpcServer, type FailoverPoolOptions, type RpcServerOptions } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { createClient, createServiceDispatch, implement, serverStream, service, type CallContext, type ServiceDispatchOptions } from '../src/index.js';
import { listening, transport } from './harness.js';
import { Front, Ledger, backServer as backServerOf, codec, failure, fronts as frontsOf, hopPool, refusing as refusingOf, relayTo as relayOf, type BackHandler } from './hop-chain.js';

// At most once through three hops (client → Front → Back), each hop a FailoverPool over real TCP
// servers: whatever fails where, a Front or Back handler runs a call (keyed by its id) at most
// once, and a call that ran is never told it did not (`retry: 'safe'`).

const BackFeed = service('Back', { feed: serverStream<string, string>() });
const FrontFeed = service('Front', { feed: serverStream<string, string>() });

const cleanup = cleanups();

const backServer = (ledger: Ledger, handler: BackHandler, opts: Partial<RpcServerOptions> = {}, dispatch: Partial<ServiceDispatchOptions> = {}) => backServerOf(cleanup, ledger, handler, opts, dispatch);
const pool = (servers: string[], opts: Partial<Omit<FailoverPoolOptions, 'transport' | 'servers'>> = {}): FailoverPool => hopPool(cleanup, servers, opts);
const fronts = (ledger: Ledger, backs: string[], backPool: Partial<FailoverPoolOptions> = {}): Promise<string[]> => frontsOf(cleanup, ledger, backs, backPool);
const relayTo = (address: string): Promise<TcpRelay> => relayOf(cleanup, address);

/** Two Fronts whose stream handler runs the call, then relays the items of Back's stream at `backs` through a FailoverPool. */
async function feedFronts(ledger: Ledger, backs: string[]) {
  const back = createClient(BackFeed, pool(backs), { codec });
  async function* feed(id: string, ctx: CallContext) {
    ledger.ran('front', id);
    for await (const item of await back.feed(id, { ctx })) yield item;
  }
  const addresses: string[] = [];
  for (let i = 0; i < 2; i++) {
    const server = new RpcServer({ dispatch: createServiceDispatch({ codec, logger: silentLogger, services: [implement(FrontFeed, { feed })] }) });
    addresses.push((await listening(server, cleanup)).address);
  }
  return addresses;
}

const refusing = (code: ErrorCode): Promise<string> => refusingOf(cleanup, code);

describe('a call that is not idempotent runs at most once through three hops', () => {
  it('when the connection from Front to Back is cut after the request went out', async () => {
    const ledger = new Ledger();
    const hold = deferred<string>();
    const b1 = await backServer(ledger, () => hold.promise);
    const b2 = await backServer(ledger, (id) => id);
    const relay = await relayTo(b1.address);
    const client = createClient(Front, pool(await fronts(ledger, [relay.address, b2.address])), { codec });
    const call = failure(client.pay('a'));
    await ledger.started('a').promise;
    relay.cut();
    const err = await call;
    hold.resolve('late');
    expect(err).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent' });
    expect(ledger.front.get('a')).toBe(1);
    expect(ledger.back.get('a')).toBe(1);
  });

  it('when the connection from the client to Front is cut while Back runs the call', async () => {
    const ledger = new Ledger();
    const hold = deferred<string>();
    const back = await backServer(ledger, () => hold.promise);
    const [f1, f2] = await fronts(ledger, [back.address]);
    const relay = await relayTo(f1!);
    const client = createClient(Front, pool([relay.address, f2!]), { codec });
    const call = failure(client.pay('b'));
    await ledger.started('b').promise;
    relay.cut();
    const err = await call;
    hold.resolve('late');
    expect(err).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent' });
    expect(ledger.front.get('b')).toBe(1);
    expect(ledger.back.get('b')).toBe(1);
  });

  it("when Back's answer is cut mid-way on its way to Front", async () => {
    const ledger = new Ledger();
    // An answer of 2 MB through a link of 256 KB/s: cut once 64 KB of it went through.
    const big = 'x'.repeat(2 * 1024 * 1024);
    const b1 = await backServer(ledger, () => big);
    const b2 = await backServer(ledger, () => big);
    const relay = await relayTo(b1.address);
    const client = createClient(Front, pool(await fronts(ledger, [relay.address, b2.address])), { codec });
    // The connection is made (and throttled) before the call.
    await client.pay('warm');
    relay.throttle(256 * 1024);
    const before = relay.fromTarget();
    const call = failure(client.pay('c', { timeoutMs: 30_000 }));
    await waitFor(() => relay.fromTarget() - before > 64 * 1024, { what: "part of Back's answer" });
    relay.cut();
    const err = await call;
    expect(err).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent' });
    expect(ledger.front.get('c')).toBe(1);
    expect(ledger.back.get('c')).toBe(1);
  });

  it.each([ErrorCode.Overloaded, ErrorCode.Closed])('when every Back refuses it unrun (%s): Front ran, so the client does not move it', async (code) => {
    const ledger = new Ledger();
    const client = createClient(Front, pool(await fronts(ledger, [await refusing(code), await refusing(code)])), { codec });
    const err = await failure(client.pay('d'));
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code, retry: 'idempotent' });
    expect(ledger.front.get('d')).toBe(1);
  });

  it.each([ErrorCode.Overloaded, ErrorCode.Closed])('a stream, when every Back refuses it unrun (%s): Front ran, so the client does not open it on the other Front', async (code) => {
    const ledger = new Ledger();
    const client = createClient(FrontFeed, pool(await feedFronts(ledger, [await refusing(code), await refusing(code)])), { codec });
    const read = async () => {
      for await (const item of await client.feed('s')) throw new Error(`no item expected, got ${item}`);
    };
    const err = await failure(read());
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code, retry: 'idempotent' });
    expect(ledger.front.get('s')).toBe(1);
  });

  it('when Back answers Timeout early (its handler ran): not moved to the other Back, nor to the other Front', async () => {
    const ledger = new Ledger();
    const never = new Promise<string>(() => {});
    const b1 = await backServer(ledger, () => never, {}, { handlerTimeoutMs: 100 });
    const b2 = await backServer(ledger, () => never, {}, { handlerTimeoutMs: 100 });
    const client = createClient(Front, pool(await fronts(ledger, [b1.address, b2.address])), { codec });
    const err = await failure(client.pay('e', { timeoutMs: 20_000 }));
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'idempotent' });
    expect(ledger.front.get('e')).toBe(1);
    expect(ledger.back.get('e')).toBe(1);
  });

  it('when a Back closes gracefully with calls running, waiting in its window and held past its cap: each runs once', async () => {
    const ledger = new Ledger();
    const hold = deferred<string>();
    // Back 1 runs one call at a time (a second is held past its cap); the Front's connection to it
    // takes two at once (a third waits in the client's window): an older Skein client's (no hello
    // kind 24), whose window is not narrowed to the cap.
    const b1 = await backServer(ledger, (id) => (id === 'run' ? hold.promise : id), { maxInFlightPerConn: 1, closeWaitMs: 10_000 });
    const b2 = await backServer(ledger, (id) => id);
    const older = olderSkeinClient(transport, 24);
    const client = createClient(Front, pool(await fronts(ledger, [b1.address, b2.address], { transport: older, pool: { stream: { window: 2 } } })), { codec });
    const running = client.pay('run');
    await ledger.started('run').promise;
    const later = ['held', 'waiting', 'more'].map((id) => client.pay(id));
    // Sent, and held by Back 1 behind the running call: its connection is not read meanwhile.
    await waitFor(() => b1.server.stats().paused === 1, { what: 'a request held past the cap' });
    const closing = b1.server.close();
    // The held call, refused unrun, has moved to Back 2 while the running one still runs on Back 1.
    await ledger.started('held').promise;
    hold.resolve('run');
    expect(await Promise.all([running, ...later])).toEqual(['paid run', 'paid held', 'paid waiting', 'paid more']);
    await closing;
    expect(ledger.most()).toBe(1);
    for (const id of ['run', 'held', 'waiting', 'more']) expect([id, ledger.back.get(id)]).toEqual([id, 1]);
  });
});
