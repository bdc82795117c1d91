import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError } from '@skein/core';
import { createServiceDispatch } from '@skein/api';
import { memoryLogger, waitFor, cleanups } from '@skein/test-utils';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { createRouter, dispatchByService } from '@skein/stream';
import { WorkerPool } from '../src/index.js';
import calcOptions from './fixtures/calc.mjs';
import routerModule from './fixtures/router.mjs';
import { CALC_MODULE, ROUTER_MODULE, outcome, serve, startPool } from './harness.js';

const cleanup = cleanups();

async function poolServer(opts: Partial<Parameters<typeof startPool>[0]> = {}) {
  const logger = memoryLogger();
  const pool = await startPool({ module: CALC_MODULE, workers: 2, logger, ...opts });
  cleanup.push(() => pool.destroy());
  const s = await serve(pool);
  cleanup.push(() => s.close());
  return { ...s, pool, logger };
}

/** Resolves once `n` calls to `hold` have started waiting at the gate: their handlers ran. */
function holding(n: number): Promise<void> {
  const heard = new BroadcastChannel('skein-workers-test-holding');
  cleanup.push(() => heard.close());
  let left = n;
  return new Promise((resolve) => (heard.onmessage = () => --left === 0 && resolve()));
}

const openGate = (): void => {
  const bc = new BroadcastChannel('skein-workers-test-gate');
  bc.postMessage('open');
  bc.close();
};

describe('WorkerPool', () => {
  it('answers exactly as the same services in process', async () => {
    const inProcess = await serve(createServiceDispatch({ ...calcOptions, codec: msgpackCodec }));
    cleanup.push(() => inProcess.close());
    const { calc, stream } = await poolServer();
    const run = async (c: typeof calc, s: typeof stream) => [
      await outcome(c.add({ a: 1, b: 2 })),
      await outcome(c.div({ a: 1, b: 4 })),
      await outcome(c.div({ a: 1, b: 0 })),
      await outcome(c.echo({ s: 'ü', n: [1, 2.5, null], b: new Uint8Array([7, 8]) })),
      await outcome(c.boom()),
      await outcome(c.overloaded()),
      await outcome(c.who()),
      await outcome(s.call('Calc.nope', new Uint8Array())),
      await outcome(s.call('Nope.x', new Uint8Array())),
      await outcome(s.call(9, new Uint8Array([1]))),
      await outcome(s.call('Calc.add', new Uint8Array([0xc1]))), // not msgpack
    ];
    const expected = await run(inProcess.calc, inProcess.stream);
    expect(await run(calc, stream)).toEqual(expected);
    // The cases mean something: a declared error, a crash and a downstream Overloaded among them.
    expect(expected[2]).toEqual({ error: 'DivideByZero', message: '' });
    expect(expected[5]).toMatchObject({ code: 'Overloaded', retry: 'idempotent' });
  });

  it('carries numeric actions, blobs and a plain Dispatch module', async () => {
    const inProcess = await serve(routerModule());
    cleanup.push(() => inProcess.close());
    const pool = await startPool({ module: ROUTER_MODULE, workers: 1 });
    cleanup.push(() => pool.destroy());
    const s = await serve(pool);
    cleanup.push(() => s.close());
    const blob = new Uint8Array(300_000).map((_, i) => i);
    const run = async (st: typeof s.stream) => [
      await st.call(1, new Uint8Array([1, 2, 3]), { blob }).then((r) => [Array.from(r.msg), r.blob.length, r.blob[299_999]]),
      await st.call(1, new Uint8Array()).then((r) => [r.msg.length, r.blob.length]),
      await outcome(st.call(2, new Uint8Array())),
    ];
    expect(await run(s.stream)).toEqual(await run(inProcess.stream));
  });

  it("routes string actions past the action table's cap by name: a peer of endless names grows nothing", async () => {
    const { calc, stream } = await poolServer({ workers: 2 });
    const junk = await Promise.all(Array.from({ length: 1100 }, (_, i) => outcome(stream.call(`Junk${i}.x`, new Uint8Array()))));
    expect(new Set(junk.map((r) => (r as { code: string }).code))).toEqual(new Set(['Service']));
    // Calc.add comes after the table is full: it travels by name, and still reaches its handler.
    expect(await Promise.all([calc.add({ a: 1, b: 2 }), calc.div({ a: 9, b: 3 })])).toEqual([3, 3]);
  });

  it('refuses a request that opens a stream, unrun: no worker holds its connection', async () => {
    const pool = await startPool({ module: ROUTER_MODULE, workers: 1, exposeInternalErrors: true });
    cleanup.push(() => pool.destroy());
    const s = await serve(pool);
    cleanup.push(() => s.close());
    const err = await s.stream.openStream(1).result.catch((e: unknown) => e);
    expect(err).toMatchObject({ codeName: 'Method', message: 'action 1: streams are not served through a WorkerPool' });
    expect(pool.stats().inFlight).toBe(0);
    expect(await s.stream.call(1, new Uint8Array([5])).then((r) => Array.from(r.msg))).toEqual([5]);
  });

  it("holds no share of the stream budget for a stream it refuses: with the budget full, the stream is answered by the pool's own refusal, not Overloaded", async () => {
    const pool = await startPool({ module: ROUTER_MODULE, workers: 1, exposeInternalErrors: true });
    cleanup.push(() => pool.destroy());
    // Streams on the loop that keep their items unread hold the whole budget (two windows).
    let holding = 0;
    const gate = new Promise<void>((resolve) => cleanup.push(resolve));
    const onLoop = createRouter({ 'Up.hold': () => (holding++, gate.then(() => undefined)) });
    const s = await serve(dispatchByService({ services: { Up: onLoop }, otherwise: pool }), { closeWaitMs: 0, streamWindowBytes: 16 * 1024, streamBudgetBytes: 32 * 1024 });
    cleanup.push(() => s.close());
    const holds = [s.stream.openStream('Up.hold'), s.stream.openStream('Up.hold')];
    await waitFor(() => holding === 2, { what: 'two streams hold the budget' });
    expect(await s.stream.openStream('Up.hold').result.catch((e: unknown) => e)).toMatchObject({ codeName: 'Overloaded' });
    const err = await s.stream.openStream(1).result.catch((e: unknown) => e);
    expect(err).toMatchObject({ codeName: 'Method', message: 'action 1: streams are not served through a WorkerPool' });
    expect(s.server.stats().streamsRefused).toBe(1);
    for (const h of holds) h.cancel();
  });

  it("carries the connection's principal to the workers, kept apart per server; one that cannot cross stays behind, with a warning", async () => {
    const logger = memoryLogger();
    const pool = await startPool({ module: CALC_MODULE, workers: 1, logger });
    cleanup.push(() => pool.destroy());
    const principals: Record<string, unknown> = { ada: { name: 'ada', roles: ['admin'] }, fn: { check: () => true } };
    const auth = { authenticate: ({ text }: { text: string }) => ({ principal: principals[text] }) };
    const a = await serve(pool, auth, { credentials: 'ada' });
    cleanup.push(() => a.close());
    expect((await a.calc.who()).principal).toEqual({ name: 'ada', roles: ['admin'] });
    const b = await serve(pool, auth, { credentials: 'fn' });
    cleanup.push(() => b.close());
    const [whoA, whoB] = [await a.calc.who(), await b.calc.who()];
    expect(whoB.principal).toBeNull();
    // One pool behind two servers: both connections are each server's number 1, yet distinct.
    expect(whoA).toMatchObject({ conn: whoB.conn, principal: { name: 'ada', roles: ['admin'] } });
    expect(await a.calc.peer()).not.toBe(await b.calc.peer());
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([expect.stringMatching(/principal cannot be sent to a worker thread/)]);
  });

  it("aborts a handler's ctx.signal in its worker when the client's connection closes", async () => {
    const { calc, pool, stream } = await poolServer({ workers: 2 });
    const events = new BroadcastChannel('skein-workers-test-events');
    const heard = new Promise<string>((resolve) => (events.onmessage = (e: MessageEvent) => resolve(e.data as string)));
    cleanup.push(() => events.close());
    void calc.untilClosed().catch(() => {});
    const { conn } = await calc.who();
    await waitFor(() => pool.stats().inFlight === 1);
    stream.destroy();
    expect(await heard).toBe(`aborted ${conn}`);
    await waitFor(() => pool.stats().inFlight === 0);
  });

  it('replaces a crashed worker even when the logger throws writing so (the throw left it unreplaced and escaped the exit event)', async () => {
    const throwing = { debug() {}, info() {}, warn() {}, error() { throw new Error('cannot write this line'); } };
    const { calc, pool } = await poolServer({ logger: throwing });
    expect(await outcome(calc.crash())).toMatchObject({ code: 'IO' });
    await waitFor(() => pool.stats().workers === 2 && pool.stats().crashes === 1);
    const again = await Promise.all(Array.from({ length: 50 }, (_, i) => calc.add({ a: i, b: 0 })));
    expect(again).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('replaces a worker that crashes mid-flood; the calls it held fail as "may have run"', async () => {
    const { calc, pool, logger } = await poolServer({ maxInFlightPerWorker: 16, exposeInternalErrors: true });
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 400; i++) calls.push(outcome(i === 200 ? calc.crash() : calc.add({ a: i, b: 1 })));
    const results = await Promise.all(calls);
    const failed = results.filter((r) => !('ok' in (r as object)));
    // The crash call itself, and whatever else that worker held: never more than its share.
    expect(failed.length).toBeGreaterThanOrEqual(1);
    expect(failed.length).toBeLessThanOrEqual(16);
    for (const f of failed) expect(f).toMatchObject({ code: 'IO', retry: 'idempotent', message: expect.stringMatching(/^Calc\.\w+: worker \d exited with code 7 while holding this call; the handler may have run$/) });
    results.forEach((r, i) => {
      if ('ok' in (r as object)) expect(r).toEqual({ ok: i + 1 });
    });
    expect(results[200]).toMatchObject({ code: 'IO' });
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([expect.stringMatching(/^worker \d exited with code 7; (the \d+ calls? it held failed|it held no calls)/)]);
    await waitFor(() => pool.stats().workers === 2);
    expect(pool.stats()).toMatchObject({ crashes: 1, inFlight: 0, queued: 0 });
    // The replacement serves: a second flood is all answered.
    const again = await Promise.all(Array.from({ length: 200 }, (_, i) => calc.add({ a: i, b: 0 })));
    expect(again).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('does not replace, again and again, a replacement that cannot load its module', async () => {
    const marker = `${tmpdir()}/skein-workers-break-${process.pid}`;
    const { calc, pool, logger } = await poolServer({ module: new URL('./fixtures/flaky.mjs', import.meta.url), workers: 2 });
    writeFileSync(marker, '');
    cleanup.push(() => rmSync(marker, { force: true }));
    expect(await outcome(calc.crash())).toMatchObject({ code: 'IO' });
    await waitFor(() => pool.stats().crashes === 2);
    const errors = logger.lines.filter((l) => l.level === 'error').map((l) => l.msg);
    expect(errors).toEqual([
      expect.stringMatching(/^worker (\d) exited with code 7; the 1 call it held failed \(it may have run\); replaced$/),
      expect.stringMatching(/^worker \d could not load its module: broken since the pool started; it held no calls; not replaced$/),
    ]);
    // The other worker serves on, and nothing is started again.
    expect(await Promise.all(Array.from({ length: 50 }, (_, i) => calc.add({ a: i, b: 0 })))).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(pool.stats()).toMatchObject({ workers: 1, crashes: 2 });
  });

  it('a handler that runs its worker out of heap fails its calls, not the process; the worker is replaced', async () => {
    const { calc, pool, logger } = await poolServer({ workers: 1, resourceLimits: { maxOldGenerationSizeMb: 32 }, exposeInternalErrors: true });
    expect(await outcome(calc.hog())).toMatchObject({ code: 'IO', retry: 'idempotent', message: expect.stringMatching(/^Calc\.hog: worker 0 threw Error: .*out of memory.*; the handler may have run$/i) });
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(1);
    await waitFor(() => pool.stats().workers === 1);
    expect(await calc.add({ a: 2, b: 2 })).toBe(4);
  });

  it('without exposeInternalErrors a crash still reads as IO, may have run', async () => {
    const { calc } = await poolServer({ workers: 1 });
    expect(await outcome(calc.crash())).toEqual({ code: 'IO', retry: 'idempotent', message: 'Calc.crash: rpc_io_err' });
  });

  it.each(['reject-new', 'shed-oldest'] as const)('a full queue answers Overloaded, unrun (%s)', async (whenFull) => {
    // One worker holding one call, two waiting: the fourth call on finds the queue full.
    const { calc, pool, logger } = await poolServer({ workers: 1, maxInFlightPerWorker: 1, maxQueued: 2, whenFull });
    const results = Promise.all(Array.from({ length: 10 }, (_, i) => outcome(calc.hold(i))));
    await waitFor(() => pool.stats().inFlight === 1 && pool.stats().queued === 2);
    openGate();
    const r = await results;
    const overloaded = { code: 'Overloaded', retry: 'safe', message: 'Calc.hold: rpc_overloaded' };
    // reject-new keeps the first three; shed-oldest keeps the one the worker held and the last two.
    const kept = whenFull === 'reject-new' ? [0, 1, 2] : [0, 8, 9];
    expect(r).toEqual(r.map((_, i) => (kept.includes(i) ? { ok: i } : overloaded)));
    // The caller reads a bare Overloaded, as at a server's caps: the pool says it was its queue, once for the run.
    expect(pool.stats().overloaded).toBe(7);
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual([`worker pool queue full (maxQueued 2): answering Overloaded (whenFull: ${whenFull})`]);
  });

  it('close drains: refuses new calls unrun, finishes queued and held ones, then ends the workers', async () => {
    const { calc, pool } = await poolServer({ workers: 2, maxInFlightPerWorker: 4 });
    const held = Promise.all(Array.from({ length: 20 }, (_, i) => calc.hold(i)));
    await waitFor(() => pool.stats().inFlight === 8 && pool.stats().queued === 12);
    const closed = pool.close();
    expect(pool.state).toBe('closing');
    expect(await outcome(calc.add({ a: 1, b: 1 }))).toEqual({ code: 'Closed', retry: 'safe', message: 'Calc.add: rpc_closed' });
    openGate();
    expect(await held).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await closed;
    expect(pool.stats()).toEqual({ state: 'closed', workers: 0, queued: 0, inFlight: 0, crashes: 0, overloaded: 0 });
  });

  it('destroy fails held calls as may have run and queued ones as unrun', async () => {
    const { calc, pool } = await poolServer({ workers: 1, maxInFlightPerWorker: 2 });
    const started = holding(2);
    const results = Promise.all(Array.from({ length: 5 }, (_, i) => outcome(calc.hold(i))));
    // Held and running: a call its worker had not yet taken would fail Closed (it never ran).
    await started;
    await waitFor(() => pool.stats().inFlight === 2 && pool.stats().queued === 3);
    await pool.destroy();
    const r = await results;
    expect(r.map((x) => (x as { code: string }).code)).toEqual(['IO', 'IO', 'Closed', 'Closed', 'Closed']);
    expect(r.map((x) => (x as { retry: string }).retry)).toEqual(['idempotent', 'idempotent', 'safe', 'safe', 'safe']);
  });

  it('destroy says so in the error of each held call (with exposeInternalErrors), not that the worker exited by itself', async () => {
    const { calc, pool, logger } = await poolServer({ workers: 1, maxInFlightPerWorker: 2, exposeInternalErrors: true });
    const started = holding(2);
    const results = Promise.all(Array.from({ length: 3 }, (_, i) => outcome(calc.hold(i))));
    await started;
    await waitFor(() => pool.stats().inFlight === 2 && pool.stats().queued === 1);
    await pool.destroy();
    const ended = { code: 'IO', retry: 'idempotent', message: 'Calc.hold: worker 0 was ended by destroy() while holding this call; the handler may have run' };
    expect(await results).toEqual([ended, ended, { code: 'Closed', retry: 'safe', message: 'Calc.hold: rpc_closed' }]);
    // Ended on purpose: no crash, nothing logged as one.
    expect(pool.stats().crashes).toBe(0);
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('refuses to start on a module that does not load, with InvalidArgument naming why', async () => {
    const err = await startPool({ module: new URL('./fixtures/broken.mjs', import.meta.url), workers: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(ErrorCode.InvalidArgument);
    expect(err.message).toMatch(/^worker pool: worker \d could not load its module: cannot open the database$/);
  });

  it.each([
    ['lists no services', 'no-services.mjs', /^worker pool: worker \d could not load its module: file:.*\/no-services\.mjs: the default export lists no services \(every call would be answered Service\)$/],
    ['has no default export', 'no-default.mjs', /^worker pool: worker \d could not load its module: file:.*\/no-default\.mjs has no default export \(named exports are not read\)$/],
  ])('refuses to start on a module that %s, with InvalidArgument naming why, not a pool that fails every call', async (_, file, why) => {
    const err = await startPool({ module: new URL(`./fixtures/${file}`, import.meta.url), workers: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(ErrorCode.InvalidArgument);
    expect(err.message).toMatch(why);
  });

  it('refuses to start on a module whose import throws a value with no string form, still naming it a load failure', async () => {
    const err = await startPool({ module: new URL('./fixtures/throws-stringless.mjs', import.meta.url), workers: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(ErrorCode.InvalidArgument);
    expect(err.message).toMatch(/^worker pool: worker \d could not load its module: a value that has no string form$/);
  });

  it('checks its options', async () => {
    // A huge maxInFlightPerWorker ("no limit") too: the pool makes a place for every call its workers may hold.
    const bad = [{ workers: 0 }, { maxQueued: 1.5 }, { maxInFlightPerWorker: -1 }, { maxInFlightPerWorker: 2 ** 32 }, { whenFull: 'drop' }, { module: 'some-package' }];
    for (const b of bad) {
      const err = await WorkerPool.start({ module: CALC_MODULE, ...(b as object) }).catch((e) => e);
      expect(err).toBeInstanceOf(RpcError);
      expect(err.code).toBe(ErrorCode.InvalidArgument);
    }
    const err = await WorkerPool.start({ module: CALC_MODULE, maxInFlightPerWorker: 65_537 }).catch((e) => e);
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: 'maxInFlightPerWorker must be at most 65536, got 65537' });
  });
});
