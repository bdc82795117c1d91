import { ErrorCode, RpcError } from '@skein/core';
import { deferred, freePort, ManualClock, waitFor, within, type Deferred, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, type ConnPoolOptions, type StreamCall } from '../src/index.js';
import { transport } from './harness.js';
import { str, textOf } from './pool-harness.js';
import { generation as startGeneration } from './restart-generation.js';

// A graceful restart behind one address: the old server drains (its listener closed, its
// connections refusing new calls unrun with a bare Closed) while a new one listens on the same
// port. A ConnPool's call refused by the draining server must run on the new one, once.

const text = new TextDecoder();
const cleanup = cleanups();
const generation = (name: string, port: number, ledger: string[], gate: Deferred<void>) => startGeneration(name, port, ledger, gate, cleanup);



/**
 * A pool with one connection to server A, which begins a graceful close while a call of the pool
 * holds it open (so it drains, refusing new calls); then, if `restart`, server B on A's port.
 */
async function drainingServer(opts: Partial<ConnPoolOptions> = {}, restart = true) {
  const port = await freePort();
  const ledger: string[] = [];
  const gate = deferred<void>();
  const a = await generation('A', port, ledger, gate);
  const pool = new ConnPool({ transport, address: `127.0.0.1:${port}`, maxConnections: 1, ...opts });
  cleanup.push(() => pool.destroy());
  const held = pool.call('hold');
  // Failed by the pool's destroy when a test fails before `finish`: not an unhandled rejection then.
  held.catch(() => undefined);
  await waitFor(() => a.stats().inFlight === 1, { what: 'the held call on A' });
  const closingA = a.close();
  // Its listener gone, A drains its connections in the same turn.
  await waitFor(() => a.stats().listeners === 0, { what: 'A to stop listening' });
  const b = restart ? await generation('B', port, ledger, gate) : undefined;
  const finish = async (): Promise<void> => {
    gate.resolve();
    expect(textOf(await within(held, 10_000, 'the held call'))).toBe('A');
    await within(closingA, 10_000, 'A to close');
  };
  return { pool, ledger, a, b, finish };
}

describe('ConnPool: a call refused unrun by a draining server (transparent retry)', () => {
  it('runs on the server that took the address over, once', async () => {
    const { pool, ledger, finish } = await drainingServer();
    expect(textOf(await within(pool.call('charge', str('1')), 10_000, 'the charge'))).toBe('B');
    expect(ledger).toEqual(['1 B']);
    await finish();
  });

  it('so does every call of a burst sent during the drain, each exactly once', async () => {
    const { pool, ledger, finish } = await drainingServer({ stream: { window: 64 } });
    const ids = Array.from({ length: 40 }, (_, i) => String(i));
    const replies = await within(Promise.all(ids.map((id) => pool.call('charge', str(id), { idempotent: false }))), 10_000, 'the burst');
    expect(replies.map(textOf)).toEqual(ids.map(() => 'B'));
    expect([...ledger].sort()).toEqual(ids.map((id) => `${id} B`).sort());
    await finish();
  });

  it('with transparentRetries: 0, fails saying the call did not run and is safe to retry', async () => {
    const { pool, ledger, finish } = await drainingServer({ transparentRetries: 0 });
    const err = await pool.call('charge', str('1')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'safe', message: 'rpc_closed: the server was closing; the call did not run (safe to retry)' });
    expect(ledger).toEqual([]);
    // The pool still moved on: the next call runs on B.
    expect(textOf(await within(pool.call('charge', str('2')), 10_000, 'the next charge'))).toBe('B');
    expect(ledger).toEqual(['2 B']);
    await finish();
  });

  it('a stream refused by the draining server, not reopened (transparentRetries: 0), says that it did not run', async () => {
    // Their refusal used to read a bare `rpc_closed`, telling no one what to do.
    const { pool, ledger, finish } = await drainingServer({ transparentRetries: 0 });
    const err = await within(pool.openStream('charge', str('1')).result.catch((e: unknown) => e), 10_000, 'the refused stream');
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'safe', message: 'rpc_closed: the server was closing; the stream did not run (safe to open again)' });
    expect(ledger).toEqual([]);
    await finish();
  });

  it('never resends a call whose Closed came from a handler (it may have run)', async () => {
    const { pool, ledger, finish } = await drainingServer();
    // First to B through the drain: a charge moves the pool to B.
    expect(textOf(await within(pool.call('charge', str('0')), 10_000, 'the charge'))).toBe('B');
    const err = await pool.call('passOn', str('1')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'idempotent' });
    expect(ledger).toEqual(['0 B', '1 B']);
    await finish();
  });

  it('waits for the reconnect only within the call\'s timeout, then fails as never run', async () => {
    const { pool, ledger, finish } = await drainingServer({ connectBudgetMs: 60_000, backoff: { initialMs: 20, maxMs: 50 } }, false);
    const err = await within(pool.call('charge', str('1'), { timeoutMs: 300 }).catch((e: unknown) => e), 10_000, 'the charge');
    expect(err).toBeInstanceOf(RpcError);
    // Resent, it waited for a connection that never came up: it never ran anywhere.
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'safe' });
    expect((err as Error).message).toMatch(/never sent.*after 2 attempts/);
    expect(ledger).toEqual([]);
    await finish();
  });

  it('resends within what is left of the call\'s timeout, not a fresh one', async () => {
    const clock = new ManualClock();
    // A already draining, the held call keeping its connection open (no goodbye yet), and nobody
    // on A's port after it. The charge goes to A at once, which refuses it unrun (a bare Closed).
    // It was once sent only when the held call's answer made room in a window of 1: on a slow
    // runner a quiet drain tick had passed by then, so A wrote its goodbye with that answer, the
    // pool read both before its flush and retired the connection, and the charge never reached A.
    const { pool, ledger, finish } = await drainingServer({ clock, connectBudgetMs: 60_000, stream: { tickMs: 100 } }, false);
    let outcome: unknown;
    pool.call('charge', str('1'), { timeoutMs: 1_000 }).then(
      () => (outcome = 'answered'),
      (err: unknown) => (outcome = err),
    );
    // 600 ms of its 1 s pass before A's refusal can arrive (it needs a turn of I/O).
    clock.advance(600);
    // Refused (a bare Closed, which retires A's connection) and resent, it waits in the pool.
    await waitFor(() => pool.queued === 1, { what: 'the refused call to be resent' });
    // The held call answered, A closes: the resent call waits for a connection that cannot come
    // (nobody listens).
    await finish();
    await waitFor(() => pool.queued === 1 && pool.connections === 0, { what: 'the resent call to wait for a connection' });
    expect(outcome).toBeUndefined();
    // Past what was left (400 ms, and the ticks' lateness), well short of a fresh 1 s.
    clock.advance(700);
    await waitFor(() => outcome !== undefined, { what: 'the resent call to time out' });
    expect(outcome).toMatchObject({ code: ErrorCode.Timeout, retry: 'safe' });
    expect((outcome as Error).message).toMatch(/never sent.*after 2 attempts/);
    expect(ledger).toEqual([]);
  });

  it('a resent call carries what is left of its timeout to the server, never more', async () => {
    const { clock, pool, ledger, finish } = await drainingToB();
    const call = pool.call('budget', str('1'), { timeoutMs: 60_000 });
    // 59 s of its 60 pass before A's refusal can arrive (it needs a turn of I/O).
    clock.advance(59_000);
    const left = Number(textOf(await within(call, 10_000, 'the resent call')));
    expect(ledger).toEqual(['1 B']);
    // What was left (1 s, counted exactly by the manual clock's ticks), not the tick more the
    // deadline's own expiry allows: the server never gets more time than the caller waits.
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(1_000);
    await finish();
  });

  it("so it does between the pool's ticks: 59.05 s into 60, at most the 950 ms left, not the 1 s its ticks say", async () => {
    const { clock, pool, ledger, finish } = await drainingToB();
    const call = pool.call('budget', str('1'), { timeoutMs: 60_000 });
    // 590 of the pool's 100 ms ticks, and half of the next.
    clock.advance(59_050);
    const left = Number(textOf(await within(call, 10_000, 'the resent call')));
    expect(ledger).toEqual(['1 B']);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(950);
    await finish();
  });

  it('checks the option', () => {
    expect(() => new ConnPool({ transport, address: '127.0.0.1:1', transparentRetries: -1 })).toThrow(/transparentRetries/);
    expect(() => new ConnPool({ transport, address: '127.0.0.1:1', transparentRetries: 1.5 })).toThrow(/transparentRetries/);
  });
});

/** A stream refused unrun after it wrote, not opened again by configuration: what happened to it and to its items. */
const WROTE_UNRUN = 'rpc_closed: the server was closing; the stream did not run and read none of its items (safe to open again)';
/** The same, for one that wrote more before the server spoke than its pool keeps to write again. */
const WROTE_UNKEPT =
  'rpc_closed: the server was closing; the stream did not run and read none of its items (safe to open again; not opened again by itself: it wrote more than its streamWindowBytes before the server spoke, more than a pool keeps to write again)';

/**
 * A pool on a manual clock (ticks of 100 ms) whose one connection is to A, draining with a call
 * held open on it (its own timeout far past the clock's jumps), and B listening on A's port: the
 * next call or stream goes to A, is refused, and is sent again to B. `finish` lets the held call
 * answer and A close.
 */
async function drainingToB(): Promise<{ clock: ManualClock; pool: ConnPool; ledger: string[]; finish: () => Promise<void> }> {
  const clock = new ManualClock();
  const port = await freePort();
  const ledger: string[] = [];
  const gate = deferred<void>();
  const a = await generation('A', port, ledger, gate);
  // keepaliveMs: 0: the clock jumps a minute, and a ping unanswered within a jump would close the connection.
  const pool = new ConnPool({ transport, address: `127.0.0.1:${port}`, maxConnections: 1, clock, stream: { tickMs: 100, keepaliveMs: 0 } });
  cleanup.push(() => pool.destroy());
  const held = pool.call('hold', str(''), { timeoutMs: 600_000 });
  held.catch(() => undefined);
  await waitFor(() => a.stats().inFlight === 1, { what: 'the held call on A' });
  const closingA = a.close();
  await waitFor(() => a.stats().listeners === 0, { what: 'A to stop listening' });
  await generation('B', port, ledger, gate);
  const finish = async (): Promise<void> => {
    gate.resolve();
    expect(textOf(await within(held, 10_000, 'the held call'))).toBe('A');
    await within(closingA, 10_000, 'A to close');
  };
  return { clock, pool, ledger, finish };
}

/** Everything a stream sent, and its answer or error. */
async function drained(stream: StreamCall): Promise<{ items: string[]; answer: string }> {
  const items: string[] = [];
  for await (const item of stream) items.push(text.decode(item.msg));
  return { items, answer: textOf(await stream.result) };
}

describe('ConnPool: a stream refused unrun by a draining server is opened again (transparent retry)', () => {
  it('a server stream opened during the drain delivers all its items from the new server, its handler run once', async () => {
    const { pool, ledger, finish } = await drainingServer();
    const got = await within(drained(pool.openStream('count', str('1'))), 10_000, 'the stream');
    expect(got).toEqual({ items: ['B1', 'B2', 'B3', 'B4', 'B5'], answer: 'B' });
    expect(ledger).toEqual(['1 B']);
    await finish();
  });

  it('so does a bidi stream that waits for the server to speak first, with a deadline', async () => {
    const { pool, ledger, finish } = await drainingServer();
    const s = pool.openStream('chat', str('1'), { timeoutMs: 10_000 });
    const items: string[] = [];
    const talk = async (): Promise<void> => {
      for await (const item of s) {
        items.push(text.decode(item.msg));
        // Written only once the server spoke: nothing of it went to A.
        if (items.length === 1) {
          await s.write(str('x'));
          await s.write(str('y'));
          s.end();
        }
      }
    };
    await within(talk(), 10_000, 'the stream');
    expect(items).toEqual(['hello from B', 'B:x', 'B:y']);
    expect(textOf(await within(s.result, 10_000, 'the answer'))).toBe('2 items');
    expect(ledger).toEqual(['1 B']);
    await finish();
  });

  it('a client stream that wrote items before the refusal is opened again with them: each read once, in order, before later ones', async () => {
    // It used to fail `retry: 'safe'` (it wrote items, and a stream was not replayed).
    const { pool, ledger, finish } = await drainingServer();
    const s = pool.openStream('collect', str('1'));
    // Opened on A's connection at once (the pool does not know yet that A drains): the items go to A.
    for (const item of ['a', 'b', 'c', 'd', 'e']) await s.write(str(item));
    // Refused by A, opened on B, the items written again there: its handler runs.
    await waitFor(() => ledger.length > 0 || s.isDone, { what: 'the stream to run somewhere, or fail' });
    await s.write(str('f'));
    await s.write(str('g'));
    s.end();
    expect(textOf(await within(s.result, 10_000, 'the answer'))).toBe('a,b,c,d,e,f,g');
    expect(ledger).toEqual(['1 B']);
    expect(s.keptBytes).toBe(0); // the server spoke (credit) and it ended: nothing kept
    await finish();
  });

  it('one that ended its side before the refusal is opened again with its items and its end', async () => {
    const { pool, ledger, finish } = await drainingServer();
    const s = pool.openStream('collect', str('1'));
    for (const item of ['a', 'b', 'c']) await s.write(str(item));
    s.end();
    expect(textOf(await within(s.result, 10_000, 'the answer'))).toBe('a,b,c');
    expect(ledger).toEqual(['1 B']);
    await finish();
  });

  it('a bidi stream that wrote before the server spoke is opened again with its items, its later ones after them', async () => {
    const { pool, ledger, finish } = await drainingServer();
    const s = pool.openStream('chat', str('1'));
    await s.write(str('x'));
    await s.write(str('y'));
    const items: string[] = [];
    const talk = async (): Promise<void> => {
      for await (const item of s) {
        items.push(text.decode(item.msg));
        if (items.length === 1) {
          await s.write(str('z'));
          s.end();
        }
      }
    };
    await within(talk(), 10_000, 'the stream');
    expect(items).toEqual(['hello from B', 'B:x', 'B:y', 'B:z']);
    expect(textOf(await within(s.result, 10_000, 'the answer'))).toBe('3 items');
    expect(ledger).toEqual(['1 B']);
    await finish();
  });

  it('one that wrote more than its own streamWindowBytes before the server spoke keeps none, and fails saying so', async () => {
    // The server's window (1 MiB) lets it write on; the pool keeps no more than its own window.
    const { pool, ledger, finish } = await drainingServer({ stream: { streamWindowBytes: 4096 } });
    const s = pool.openStream('collect', str('1'));
    const item = new Uint8Array(1024);
    for (let i = 0; i < 5; i++) await s.write(item); // 5 x 1056 credit: past 4096
    expect(s.keptBytes).toBe(0);
    const err = await within(s.result.catch((e: unknown) => e), 10_000, 'the refused stream');
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'safe', message: WROTE_UNKEPT });
    expect(ledger).toEqual([]);
    await finish();
  });

  it('one whose reopen found no server within its timeout fails as never run, its items unread', async () => {
    const { pool, ledger, finish } = await drainingServer({ connectBudgetMs: 60_000, backoff: { initialMs: 20, maxMs: 50 } }, false);
    const s = pool.openStream('collect', str('1'), { timeoutMs: 300 });
    await s.write(str('a'));
    const err = await within(s.result.catch((e: unknown) => e), 10_000, 'the stream');
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'safe' });
    expect((err as Error).message).toMatch(/never sent.*after 2 attempts/);
    expect(ledger).toEqual([]);
    await finish();
  });

  it('so says one not opened again by configuration (transparentRetries: 0)', async () => {
    const { pool, ledger, finish } = await drainingServer({ transparentRetries: 0 });
    const s = pool.openStream('chat', str('1'));
    await s.write(str('x'));
    const err = await within(s.result.catch((e: unknown) => e), 10_000, 'the refused stream');
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'safe', message: WROTE_UNRUN });
    expect(ledger).toEqual([]);
    await finish();
  });

  it('a reopened stream gets only what is left of its timeout, not a fresh one', async () => {
    const { clock, pool, ledger, finish } = await drainingToB();
    const s = pool.openStream('budget', str('1'), { timeoutMs: 60_000 });
    // 59 s of its 60 pass before A's refusal can arrive (it needs a turn of I/O).
    clock.advance(59_000);
    const left = Number(textOf(await within(s.result, 10_000, 'the reopened stream')));
    expect(ledger).toEqual(['1 B']);
    // What was left (1 s: the ticks of a manual clock count the 59 s exactly), never the fresh
    // 60 s, nor the tick more a deadline's own expiry allows: the server never gets more time than
    // the caller waits.
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(1_000);
    await finish();
  });

  it("so does one reopened between the pool's ticks: 59.05 s into 60, at most the 950 ms left", async () => {
    const { clock, pool, ledger, finish } = await drainingToB();
    const s = pool.openStream('budget', str('1'), { timeoutMs: 60_000 });
    clock.advance(59_050);
    const left = Number(textOf(await within(s.result, 10_000, 'the reopened stream')));
    expect(ledger).toEqual(['1 B']);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(950);
    await finish();
  });

  it('waits for the reconnect only within the stream\'s timeout, then fails as never run', async () => {
    const { pool, ledger, finish } = await drainingServer({ connectBudgetMs: 60_000, backoff: { initialMs: 20, maxMs: 50 } }, false);
    const err = await within(pool.openStream('count', str('1'), { timeoutMs: 300 }).result.catch((e: unknown) => e), 10_000, 'the stream');
    expect(err).toBeInstanceOf(RpcError);
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'safe' });
    expect((err as Error).message).toMatch(/never sent.*after 2 attempts/);
    expect(ledger).toEqual([]);
    await finish();
  });

  it('is not opened again after pool.close()', async () => {
    const { pool, ledger, finish } = await drainingServer();
    const s = pool.openStream('count', str('1'));
    const closing = pool.close();
    const err = await within(s.result.catch((e: unknown) => e), 10_000, 'the refused stream');
    expect(err).toMatchObject({ code: ErrorCode.Closed, retry: 'safe', message: 'rpc_closed: the server was closing; the stream did not run (safe to open again)' });
    expect(ledger).toEqual([]);
    await finish();
    await within(closing, 10_000, 'the pool to close');
  });
});
