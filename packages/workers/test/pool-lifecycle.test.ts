import { ManualClock, memoryLogger, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { Dispatch, ServerRequest } from '@skein/stream';
import type { WorkerPool } from '../src/index.js';
import { GATES_MODULE, gate, outcome, serve, startPool } from './harness.js';

// The pool's own bookkeeping around its workers and connections: queued calls of a closed
// connection still answered, a drain that ends through crashes and replacements, a queue whose
// places go to calls someone still waits for.

const HOLD = 1;
const CRASH = 2;
const ECHO = 3;
const PRINCIPAL = 4;

const cleanup = cleanups();

async function pool(opts: Partial<Parameters<typeof startPool>[0]> = {}): Promise<WorkerPool> {
  const p = await startPool({ module: GATES_MODULE, workers: 1, maxInFlightPerWorker: 1, logger: memoryLogger(), ...opts });
  cleanup.push(() => p.destroy());
  return p;
}

async function served(dispatch: WorkerPool) {
  const s = await serve(dispatch);
  cleanup.push(() => s.close());
  return s;
}

const utf8 = new TextEncoder();
/**
 * A Dispatch in front of the pool that makes a call unsendable as a Dispatch may (metadata no
 * clone can copy) when its msg is `poison`, and gives the calls whose msg starts with `renewed`
 * a new principal (as a renewal does), so that their connection is described to the worker again.
 */
function front(p: WorkerPool): Dispatch {
  return {
    dispatch(req: ServerRequest) {
      const msg = new TextDecoder().decode(req.msg);
      if (msg.startsWith('renewed')) Object.defineProperty(req, 'principal', { value: 'renewed' });
      if (msg.endsWith('poison')) Object.defineProperty(req, 'metadata', { value: { cache: new WeakMap() } });
      p.dispatch(req);
    },
  };
}

/** The client goes; resolves once the server has seen it go (its connection's signal aborted). */
async function leave(s: Awaited<ReturnType<typeof served>>): Promise<void> {
  s.stream.destroy();
  await waitFor(() => s.server.openConnections().every((c) => c.signal.aborted));
}

describe('WorkerPool lifecycle', () => {
  it("answers the queued calls of a connection that closed, so that the server's connection ends", async () => {
    const p = await pool();
    const a = await served(p);
    const b = await served(p);
    const hold = gate();
    const held = outcome(a.stream.call(HOLD, hold.msg));
    await waitFor(() => p.stats().inFlight === 1);
    void b.stream.call(HOLD, hold.msg).catch(() => {});
    void b.stream.call(HOLD, hold.msg).catch(() => {});
    await waitFor(() => p.stats().queued === 2);
    await leave(b);
    expect(b.server.stats()).toMatchObject({ connections: 1, inFlight: 2 });
    // The worker frees its slot: the pool finds the two queued calls dead, and must still answer them.
    hold.open();
    expect(await held).toMatchObject({ ok: expect.anything() });
    await waitFor(() => p.stats().queued === 0);
    await waitFor(() => b.server.connections === 0, { what: "the closed client's connection to end" });
    expect(b.server.stats()).toMatchObject({ connections: 0, inFlight: 0 });
    expect(p.stats()).toMatchObject({ queued: 0, inFlight: 0 });
  });

  it('close ends when the calls left queued died with their connection while a crashed worker was replaced', async () => {
    const p = await pool();
    const a = await served(p);
    const b = await served(p);
    const crash = gate();
    const hold = gate();
    const crashed = outcome(a.stream.call(CRASH, crash.msg));
    await waitFor(() => p.stats().inFlight === 1);
    const queued = [outcome(b.stream.call(HOLD, hold.msg)), outcome(b.stream.call(HOLD, hold.msg))];
    await waitFor(() => p.stats().queued === 2);
    const closed = p.close();
    // Nobody waits for the queued calls any more; they still wait in the queue for a worker.
    await leave(b);
    expect(await Promise.all(queued)).toEqual([expect.objectContaining({ code: 'IO' }), expect.objectContaining({ code: 'IO' })]);
    // The worker dies with calls queued: it is replaced, and its replacement finds only dead calls.
    crash.open();
    expect(await crashed).toMatchObject({ code: 'IO', retry: 'idempotent' });
    await within(closed, 10_000, 'close()');
    expect(p.stats()).toEqual({ state: 'closed', workers: 0, queued: 0, inFlight: 0, crashes: 1, overloaded: 0 });
  });

  it('a worker that crashes during close with calls queued is replaced, and the replacement serves them', async () => {
    const p = await pool();
    const s = await served(p);
    const crash = gate();
    const crashed = outcome(s.stream.call(CRASH, crash.msg));
    await waitFor(() => p.stats().inFlight === 1);
    const queued = [s.stream.call(ECHO, new Uint8Array([1])), s.stream.call(ECHO, new Uint8Array([2]))].map((c) => c.then((r) => Array.from(r.msg)));
    await waitFor(() => p.stats().queued === 2);
    const closed = p.close();
    crash.open();
    expect(await crashed).toMatchObject({ code: 'IO', retry: 'idempotent' });
    expect(await Promise.all(queued)).toEqual([[1], [2]]);
    await within(closed, 10_000, 'close()');
    expect(p.stats()).toEqual({ state: 'closed', workers: 0, queued: 0, inFlight: 0, crashes: 1, overloaded: 0 });
  });

  it('a call whose connection closed gives up its place in its worker, though its handler never answers', async () => {
    const p = await pool();
    const a = await served(p);
    const b = await served(p);
    const never = gate(); // never opened: a handler that hangs, ignoring its signal
    void a.stream.call(HOLD, never.msg).catch(() => {});
    await waitFor(() => p.stats().inFlight === 1);
    await leave(a);
    // Nobody waits for it any more: the worker's one place goes to a call someone waits for.
    await waitFor(() => p.stats().inFlight === 0, { what: "the closed connection's call to give up its place" });
    expect(await b.stream.call(ECHO, new Uint8Array([9])).then((r) => Array.from(r.msg))).toEqual([9]);
    // Answered, the call no longer keeps the closed client's connection on the server.
    await waitFor(() => a.server.connections === 0, { what: "the closed client's connection to end" });
    expect(p.stats()).toMatchObject({ crashes: 0, queued: 0, inFlight: 0 });
  });

  it("a call that could not be sent with its connection's new description does not make the pool forget the worker knows that connection: its close still frees the hung call's place", async () => {
    const p = await pool({ maxInFlightPerWorker: 2 });
    // The second call comes with a new principal (so the connection is described again) and
    // with metadata no clone can copy (so it cannot be sent).
    const a = await serve(front(p));
    cleanup.push(() => a.close());
    const never = gate(); // never opened: a handler that hangs, ignoring its signal
    void a.stream.call(HOLD, never.msg).catch(() => {});
    await waitFor(() => p.stats().inFlight === 1);
    const refused = await outcome(a.stream.call(ECHO, utf8.encode('renewed poison'), { metadata: { trace: 't' } }));
    expect(refused).toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(/its handler did not run$/) });
    await leave(a);
    // The worker knew the connection from the first call: it must hear of its close.
    await waitFor(() => p.stats().inFlight === 0, { what: "the closed connection's hung call to give up its place" });
    expect(p.stats()).toMatchObject({ crashes: 0, queued: 0, inFlight: 0 });
  });

  it("a batch that could not be posted and went apart: the connection described with its call that went is known to the worker, so its close frees that call's place", async () => {
    // Two places a batch: the hung call and the unsendable one wait in the queue behind four held
    // calls, and go in one batch, with their connection's first description, once those are answered.
    const p = await pool({ maxInFlightPerWorker: 4 });
    const b = await served(p);
    const g = gate();
    const first = Array.from({ length: 4 }, () => outcome(b.stream.call(HOLD, g.msg)));
    await waitFor(() => p.stats().inFlight === 4);
    const a = await serve(front(p));
    cleanup.push(() => a.close());
    const never = gate(); // never opened: a handler that hangs, ignoring its signal
    void a.stream.call(HOLD, never.msg).catch(() => {});
    const refused = outcome(a.stream.call(ECHO, utf8.encode('poison'), { metadata: { trace: 't' } }));
    await waitFor(() => p.stats().queued === 2);
    g.open();
    expect(await Promise.all(first)).toEqual(Array(4).fill({ ok: expect.anything() }));
    expect(await refused).toMatchObject({ code: 'InvalidArgument', message: expect.stringMatching(/its handler did not run$/) });
    expect(p.stats()).toMatchObject({ inFlight: 1, queued: 0 });
    await leave(a);
    // The hung call went with the description: the worker knows the connection and must hear of its close.
    await waitFor(() => p.stats().inFlight === 0, { what: "the closed connection's hung call to give up its place" });
  });

  it("a new principal whose call could not be sent is described again with the connection's next call", async () => {
    const p = await pool();
    const a = await serve(front(p));
    cleanup.push(() => a.close());
    const text = (r: { msg: Uint8Array }) => new TextDecoder().decode(r.msg);
    expect(await a.stream.call(PRINCIPAL, utf8.encode('before')).then(text)).toBe('undefined');
    // Renewed, and unsendable: the worker never heard of the new principal.
    const refused = await outcome(a.stream.call(ECHO, utf8.encode('renewed poison'), { metadata: { trace: 't' } }));
    expect(refused).toMatchObject({ code: 'InvalidArgument' });
    expect(await a.stream.call(PRINCIPAL, utf8.encode('renewed')).then(text)).toBe('renewed');
  });

  it("a full queue gives up the places of calls whose connection closed before refusing another's", async () => {
    const p = await pool({ maxQueued: 2 });
    const a = await served(p);
    const b = await served(p);
    const hold = gate();
    const held = outcome(a.stream.call(HOLD, hold.msg));
    await waitFor(() => p.stats().inFlight === 1);
    const dead = [outcome(b.stream.call(HOLD, hold.msg)), outcome(b.stream.call(HOLD, hold.msg))];
    await waitFor(() => p.stats().queued === 2);
    await leave(b);
    await Promise.all(dead);
    // The queue is full of calls nobody reads: a live connection's call takes a place.
    const echo = outcome(a.stream.call(ECHO, new Uint8Array([7])).then((r) => Array.from(r.msg)));
    await waitFor(() => p.stats().queued === 1);
    // Given up, they are answered still: the closed client's connection ends without waiting for a worker.
    await waitFor(() => b.server.connections === 0, { what: "the closed client's connection to end" });
    hold.open();
    expect(await echo).toEqual({ ok: [7] });
    expect(await held).toMatchObject({ ok: expect.anything() });
  });

  it('a queue that fills and empties batch after batch says it is full once per window, not once per batch; close says how many more were refused', async () => {
    const logger = memoryLogger();
    const clock = new ManualClock();
    const p = await pool({ maxQueued: 2, logger, clock });
    const s = await served(p);
    const full = 'worker pool queue full (maxQueued 2): answering Overloaded (whenFull: reject-new)';
    const more = (n: number) => `worker pool queue full (maxQueued 2): ${n} more calls answered Overloaded since the last line`;
    const warned = () => logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg);
    let refused = 0;
    const rounds = async (n: number) => {
      for (let round = 0; round < n; round++) {
        // One call held, two queued, three refused; then the gate opens and the queue empties.
        const g = gate();
        const calls = Array.from({ length: 6 }, () => outcome(s.stream.call(HOLD, g.msg)));
        refused += 3;
        await waitFor(() => p.stats().overloaded === refused);
        g.open();
        expect((await Promise.all(calls)).filter((r) => (r as { code?: string }).code === 'Overloaded')).toHaveLength(3);
        expect(p.stats().queued).toBe(0);
      }
    };
    await rounds(6);
    // Six batches, one window: one line.
    expect(warned()).toEqual([full]);
    clock.advance(10_000);
    expect(warned()).toEqual([full, more(17)]);
    await rounds(2);
    clock.advance(10_000);
    // A window with refusals: counted; a window with none ends the stretch, and the next is said whole.
    clock.advance(10_000);
    expect(warned()).toEqual([full, more(17), more(6)]);
    await rounds(2);
    expect(warned()).toEqual([full, more(17), more(6), full]);
    expect(p.stats().overloaded).toBe(30);
    await p.close();
    // Closing says what was counted since the last line.
    expect(warned()).toEqual([full, more(17), more(6), full, more(5)]);
    expect(logger.lines.filter((l) => l.level === 'warn').at(-1)!.obj).toEqual({ maxQueued: 2, overloaded: 5 });
    expect(clock.running).toBe(0);
    // Thirty refusals cost no clock read and two tickers (one per stretch): a count each.
    expect([clock.reads, clock.made]).toEqual([0, 2]);
  });
});
