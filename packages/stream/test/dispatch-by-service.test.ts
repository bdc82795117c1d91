import { ErrorCode, RpcError } from '@skein/core';
import { memoryLogger, rawConnect, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createRouter, dispatchByService, type Caller, type Dispatch, type ServerRequest } from '../src/index.js';
import { Concurrency, abandonedCall, readU32, requestFrame as request, startServer, u32 } from './harness.js';
import { golden } from './golden.js';

// dispatchByService: each string action goes to its service's dispatch (the text before the last
// dot), the rest to `otherwise`; the server's other dealings with a dispatch (serverClosed,
// tellsHandlerEnds) reach every dispatch behind it. On a real server, over TCP.

const cleanup = cleanups();
const utf8 = new TextEncoder();
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A dispatch that answers every call with its name, and counts the server closes it hears. */
function named(name: string, tellsHandlerEnds?: boolean) {
  const d = {
    closed: 0,
    dispatch: (req: ServerRequest) => void req.reply(utf8.encode(name)),
    serverClosed: () => void d.closed++,
    tellsHandlerEnds,
  };
  return d;
}

async function serve(dispatch: Dispatch, logger = memoryLogger()) {
  const s = await startServer({}, { dispatch, logger, closeWaitMs: 0 });
  cleanup.push(() => s.server.close());
  const client = await s.connect();
  cleanup.push(() => client.destroy());
  return { ...s, client, logger };
}

/** Who answered `action` (a dispatch's name), or the error's code name. */
const answerer = (c: { call(a: string | number, m?: Uint8Array): Promise<{ msg: Uint8Array }> }, action: string | number) =>
  c.call(action, new Uint8Array(0)).then(
    (r) => text(r.msg),
    (err: unknown) => (err instanceof RpcError ? err.codeName : String(err)),
  );

describe('dispatchByService: where each request goes', () => {
  it("a string action goes by its service, the text before the last dot (dotted names too); numeric actions, unlisted services and names with no service to otherwise", async () => {
    const health = named('health');
    const orders = named('orders');
    const health2 = named('health2');
    const rest = named('rest');
    const { client } = await serve(dispatchByService({ services: { 'skein.health.Health': health, Orders: orders, 'skein.health': health2 }, otherwise: rest }));
    const got = async (action: string | number) => answerer(client, action);
    // Dotted: a first-dot split would read the service as `skein`, listed nowhere.
    expect(await got('skein.health.Health.check')).toBe('health');
    expect(await got('skein.health.Health.watch')).toBe('health');
    // `skein.health` is listed too: its own methods go to it, Health's stay Health's (the last dot decides, not the first listed prefix).
    expect(await got('skein.health.Check')).toBe('health2');
    expect(await got('Orders.add')).toBe('orders');
    // The same names elsewhere in the action are not its service.
    expect(await got('x.Orders.add')).toBe('rest');
    expect(await got('Orders.add.more')).toBe('rest');
    expect(await got('Health.check')).toBe('rest');
    expect(await got('Ordersx.add')).toBe('rest');
    expect(await got('Orders')).toBe('rest');
    expect(await got('.Orders')).toBe('rest');
    expect(await got(7)).toBe('rest');
  });

  it("a listed service's dispatch answers its own unknown methods (a router: Method), never otherwise", async () => {
    const rest = named('rest');
    const orders = createRouter({ 'Orders.add': () => utf8.encode('added') });
    const { client } = await serve(dispatchByService({ services: { Orders: orders }, otherwise: rest }));
    expect(await answerer(client, 'Orders.add')).toBe('added');
    expect(await answerer(client, 'Orders.remove')).toBe('Method');
    expect(await answerer(client, 'Stock.take')).toBe('rest');
  });

  it('streams go by their service, as calls do', async () => {
    const feed = createRouter({
      'Feed.items': async (req) => {
        await req.stream!.write(u32(1));
        await req.stream!.write(u32(2));
        return utf8.encode('done');
      },
    });
    const { client } = await serve(dispatchByService({ services: { Feed: feed }, otherwise: named('rest') }));
    const s = client.openStream('Feed.items');
    const items: number[] = [];
    for await (const item of s) items.push(readU32(item.msg));
    expect(items).toEqual([1, 2]);
    expect(text((await s.result).msg)).toBe('done');
  });

  it("a client's `serve` routes the server's calls to it (calls both ways) the same way", async () => {
    const s = await startServer({}, { closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const back = createRouter({ 'peer.Back.double': (req) => u32(readU32(req.msg) * 2) });
    const peer = await s.connect({ keepaliveMs: 0, serve: dispatchByService({ services: { 'peer.Back': back }, otherwise: named('peer-rest') }) });
    cleanup.push(() => peer.destroy());
    await peer.ping();
    const caller: Caller = s.server.openConnections()[0]!.caller!;
    const call = (action: string, msg: Uint8Array) =>
      new Promise<Uint8Array>((resolve, reject) => caller.send(action, msg, {}, (err, reply) => (err ? reject(err) : resolve(reply!.msg))));
    expect(readU32(await call('peer.Back.double', u32(21)))).toBe(42);
    expect(text(await call('peer.Other.x', new Uint8Array(0)))).toBe('peer-rest');
  });
});

describe('dispatchByService: what the server tells its dispatch', () => {
  it('serverClosed reaches each distinct dispatch once, however often it is listed (otherwise too)', async () => {
    const a = named('a');
    const b = named('b');
    const c = named('c');
    const s = await serve(dispatchByService({ services: { A: a, B: a, 'x.C': b, D: c }, otherwise: b }));
    expect(await answerer(s.client, 'A.m')).toBe('a');
    s.client.destroy();
    await s.server.close();
    expect([a.closed, b.closed, c.closed]).toEqual([1, 1, 1]);
  });

  it('one that throws in serverClosed does not keep the others from hearing it; the server logs its error', async () => {
    const after = named('after');
    const throws: Dispatch = {
      dispatch: (req) => void req.reply(),
      serverClosed() {
        throw new Error('flush failed');
      },
    };
    const s = await serve(dispatchByService({ services: { First: throws }, otherwise: after }));
    s.client.destroy();
    await s.server.close();
    expect(after.closed).toBe(1);
    const line = s.logger.lines.find((l) => l.msg === 'dispatch.serverClosed threw');
    expect((line?.obj.err as Error | undefined)?.message).toBe('flush failed');
  });

  it('tellsHandlerEnds is true only when every dispatch behind it (otherwise too) says so', () => {
    const tells = (...ds: (boolean | undefined)[]) =>
      dispatchByService({ services: Object.fromEntries(ds.slice(1).map((t, i) => [`S${i}`, named(`s${i}`, t)])), otherwise: named('rest', ds[0]) }).tellsHandlerEnds;
    expect(tells(true, true, true)).toBe(true);
    expect(tells(true)).toBe(true);
    expect(tells(true, true, undefined)).toBe(false);
    expect(tells(true, false, true)).toBe(false);
    expect(tells(undefined, true, true)).toBe(false);
    expect(tells(false)).toBe(false);
    // Routers say true: so do two behind it.
    expect(dispatchByService({ services: { A: createRouter({}) }, otherwise: createRouter({}) }).tellsHandlerEnds).toBe(true);
  });

  it('behind it, routers that tell handler ends keep the bound: a peer cancelling every call runs at most twice maxInFlightPerConn handlers', async () => {
    const CAP = 8;
    const CALLS = 200;
    const running = new Concurrency();
    const ends: (() => void)[] = [];
    // Ignores its signal, as a handler blocked in a database call would, and ends when let go.
    const slow = () => (running.enter(), new Promise<void>((resolve) => ends.push(() => (running.leave(), resolve()))));
    const dispatch = dispatchByService({ services: { Other: createRouter({}) }, otherwise: createRouter({ 1: slow }) });
    const s = await startServer({}, { dispatch, maxInFlightPerConn: CAP, closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const peer = await rawConnect(s.address);
    cleanup.push(() => peer.destroy());
    peer.write(golden.helloRequestFull);
    for (let seq = 1; seq <= CALLS; seq++) abandonedCall(peer, 1, seq);
    await waitFor(() => running.total >= 2 * CAP, { what: 'handlers started' });
    // Whatever the server reads of those frames it reads within a few ticks; the handlers it starts stay.
    await new Promise((r) => setTimeout(r, 200));
    expect(running.max).toBeLessThanOrEqual(2 * CAP);
    // Not wedged: as the abandoned handlers end, the calls behind them run, every one.
    await waitFor(() => (ends.splice(0).forEach((end) => end()), running.total === CALLS), { what: 'every call run', timeoutMs: 20_000 });
    ends.splice(0).forEach((end) => end());
  });
});

describe('dispatchByService: what it refuses', () => {
  const d = named('d');
  const refused = (opts: unknown) => {
    try {
      dispatchByService(opts as Parameters<typeof dispatchByService>[0]);
    } catch (err) {
      return err instanceof RpcError ? { code: err.code, message: err.message } : err;
    }
    return 'accepted';
  };
  it.each([
    ['no options', undefined, 'dispatchByService takes { services, otherwise }, got undefined'],
    ['services missing', { otherwise: d }, 'dispatchByService: services must be an object of dispatches by service name'],
    ['services a Map', { services: new Map([['A', d]]), otherwise: d }, 'got a Map'],
    ['services an array', { services: [d], otherwise: d }, 'got an Array'],
    ['otherwise missing', { services: { A: d } }, 'dispatchByService: otherwise must be a Dispatch (an object with dispatch(req)) for the calls no service listed takes, got undefined'],
    ['otherwise without dispatch', { services: { A: d }, otherwise: { serverClosed() {} } }, 'otherwise must be a Dispatch'],
    ['an empty service name', { services: { '': d }, otherwise: d }, 'dispatchByService: a service name is empty'],
    ['a numeric service name', { services: { 7: d }, otherwise: d }, 'dispatchByService: service name "7" is a number: numeric actions have no service, and go to otherwise'],
    ['a service that is no dispatch', { services: { 'skein.health.Health': createRouter }, otherwise: d }, 'dispatchByService: services["skein.health.Health"] must be a Dispatch (an object with dispatch(req)), got a function'],
    ['a service whose dispatch is no function', { services: { A: { dispatch: 'yes' } }, otherwise: d }, 'services["A"] must be a Dispatch'],
  ])('%s: InvalidArgument', (_, opts, words) => {
    const r = refused(opts) as { code: ErrorCode; message: string };
    expect(r.code).toBe(ErrorCode.InvalidArgument);
    expect(r.message).toContain(words);
  });

  it('takes dotted names, one dispatch under several names, and no services at all', () => {
    expect(refused({ services: { 'skein.health.Health': d, A: d }, otherwise: d })).toBe('accepted');
    expect(refused({ services: {}, otherwise: d })).toBe('accepted');
  });
});
