import { ErrorCode, silentLogger, type RpcError, type Transport } from '@skein/core';
import { deferred, freePort, ManualClock, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, RpcServer, createRouter, type ConnPoolOptions, type RpcServerOptions, type ServerRequest } from '../src/index.js';
import { transport } from './harness.js';

/**
 * What a pool sends for a call that waited for a connection: the same as for one sent on a
 * ready connection. Only a call's own `timeoutMs` travels as a deadline; the default bounds
 * the call here alone, and after a wait only by what is left of it. A FailoverPool's retry is
 * the exception: it carries what is left of the call's whole timeout, the default's too.
 */

const cleanup = cleanups();

/** What the server saw of one call: its deadline, and whether a head came with it. */
interface Seen {
  deadline: number | undefined;
  headed: boolean;
}

const seenOf = (req: ServerRequest): Seen => ({ deadline: req.deadline, headed: req.control !== undefined });

/** A server recording every call to `rec` (answered at once) and to `hang` (never answered). */
async function recordingServer(opts: Partial<RpcServerOptions> = {}) {
  const seen: Seen[] = [];
  const hung = deferred<ServerRequest>();
  const server = new RpcServer({
    dispatch: createRouter(
      {
        rec: (req) => void seen.push(seenOf(req)),
        hang: (req) => (hung.resolve(req), new Promise(() => {})),
      },
      silentLogger,
    ),
    closeWaitMs: 0,
    ...opts,
  });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return { server, seen, hung, address: 'path' in a ? `unix:${a.path}` : `${a.host}:${a.port}` };
}

/** The TCP transport, whose connects wait until `open()`: the pool's first calls wait for the connection as long as a test needs. */
function gatedTransport(): Transport & { open(): void } {
  const gate = deferred();
  return {
    name: transport.name,
    open: () => gate.resolve(),
    connect: async (...args) => {
      await gate.promise;
      return transport.connect(...args);
    },
    listen: (...args) => transport.listen(...args),
  };
}

function pool(opts: ConnPoolOptions): ConnPool {
  const p = new ConnPool(opts);
  cleanup.push(() => p.destroy());
  return p;
}

/** Lets settled promises' callbacks run (no time passes). */
const settled = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('ConnPool: a call that waited for a connection', () => {
  it('sends no deadline unless it has a timeout of its own, as on a ready connection', async () => {
    const s = await recordingServer();
    const p = pool({ transport, address: s.address });
    // Made while the pool is idle: both wait for its first connection.
    const plain = p.call('rec');
    const signalled = p.call('rec', undefined, { signal: new AbortController().signal });
    expect(p.stats()).toMatchObject({ state: 'connecting', queued: 2 });
    await within(Promise.all([plain, signalled]), 10_000, 'the calls that waited');
    await within(p.call('rec'), 10_000, 'a call on the ready connection');
    expect(s.seen).toEqual([
      // No head at all: a plain call, as on a ready connection.
      { deadline: undefined, headed: false },
      // A head for its signal, without a deadline.
      { deadline: undefined, headed: true },
      { deadline: undefined, headed: false },
    ]);
  });

  it('is still bounded by what is left of the default timeout, not a fresh one', async () => {
    const clock = new ManualClock();
    const s = await recordingServer();
    const t = gatedTransport();
    // Ticks of 100 ms: the 2 s default is checked every 100 ms, what is left of it (600 ms) every 25.
    const p = pool({ transport: t, address: s.address, clock, stream: { timeoutMs: 2_000, tickMs: 100 } });
    let outcome: RpcError | 'answered' | undefined;
    p.call('hang').then(
      () => (outcome = 'answered'),
      (err: RpcError) => (outcome = err),
    );
    // 1.5 s of its 2 s pass while it waits for the connection.
    clock.advance(1_500);
    expect(outcome).toBeUndefined();
    t.open();
    const req = await within(s.hung.promise, 10_000, 'the call to reach the server');
    expect(seenOf(req)).toEqual({ deadline: undefined, headed: false });
    // Past what was left (and the ticks' lateness), well short of a fresh 2 s.
    clock.advance(700);
    await settled();
    expect(outcome).toMatchObject({ code: ErrorCode.Timeout });
  });

  it('with a timeout of its own, carries what is left of it as its deadline', async () => {
    const clock = new ManualClock();
    // The server reads deadlines on the same clock: what it sees is exactly what was sent.
    const s = await recordingServer({ clock });
    const t = gatedTransport();
    const p = pool({ transport: t, address: s.address, clock, stream: { tickMs: 100 } });
    const call = p.call('hang', undefined, { timeoutMs: 5_000 }).catch((e: RpcError) => e);
    clock.advance(1_500);
    t.open();
    const req = await within(s.hung.promise, 10_000, 'the call to reach the server');
    expect(req.control).toBeDefined();
    const left = req.deadline! - clock.time;
    // 5 s less the 1.5 s it waited (the ticks of a manual clock count it exactly): not the whole
    // 5 s, and not the pool's tick more either, which a deadline's "surely passed" adds for its own
    // expiry: handed on, it would give the server more time than the caller waits.
    expect(left).toBe(3_500);
    clock.advance(3_700);
    expect(((await within(call, 10_000, 'the call to time out')) as RpcError).code).toBe(ErrorCode.Timeout);
  });

  it("so it does when the connection comes between the pool's ticks: 1.55 s into 5, the 3.45 s left, not the 3.5 s its ticks say", async () => {
    const clock = new ManualClock();
    const s = await recordingServer({ clock });
    const t = gatedTransport();
    const p = pool({ transport: t, address: s.address, clock, stream: { tickMs: 100 } });
    const call = p.call('hang', undefined, { timeoutMs: 5_000 }).catch((e: RpcError) => e);
    // 15 of the pool's 100 ms ticks, and half of the next.
    clock.advance(1_550);
    t.open();
    const req = await within(s.hung.promise, 10_000, 'the call to reach the server');
    expect(req.deadline! - clock.time).toBe(3_450);
    clock.advance(3_700);
    expect(((await within(call, 10_000, 'the call to time out')) as RpcError).code).toBe(ErrorCode.Timeout);
  });
});

describe('FailoverPool: a call that waited for a connection', () => {
  it('on a retry, sends what is left of its timeout (the default too); a first attempt without one of its own sends none', async () => {
    const s = await recordingServer();
    const dead = `127.0.0.1:${await freePort()}`;
    // The leader is the first server, which refuses connections: the first call moves to the
    // second, whose pool is idle, and waits there for its connection.
    const p = new FailoverPool({ transport, servers: [dead, s.address], strategy: 'leader' });
    cleanup.push(() => within(p.close(), 10_000, 'pool close'));
    await within(p.call('rec'), 10_000, 'the call that failed over');
    // The leader refused: backing off, or already connecting again if its backoff delay passed
    // while the call ran on the second (a loaded machine); the second is up.
    const [leader, second] = p.stats();
    expect(['backoff', 'connecting']).toContain(leader!.state);
    expect(second!.state).toBe('ready');
    await within(p.call('rec'), 10_000, 'a call on the ready connection');
    await within(p.call('rec', undefined, { timeoutMs: 60_000 }), 10_000, 'a call with a timeout');
    // The retry: a head with what was left of the 20 s default (its timeoutMs bounds the whole call).
    expect(s.seen[0]).toMatchObject({ headed: true, deadline: expect.any(Number) });
    // A first attempt without a timeout of its own goes as it would on a ConnPool: no head.
    expect(s.seen[1]).toEqual({ deadline: undefined, headed: false });
    expect(s.seen[2]).toMatchObject({ headed: true, deadline: expect.any(Number) });
  });

  it('with a timeout of its own, carries what is left of it as its deadline', async () => {
    const clock = new ManualClock();
    const s = await recordingServer({ clock });
    const t = gatedTransport();
    const p = new FailoverPool({ transport: t, clock, servers: [s.address], pool: { stream: { tickMs: 100 } } });
    cleanup.push(() => within(p.close(), 10_000, 'pool close'));
    const call = p.call('hang', undefined, { timeoutMs: 5_000 }).catch((e: RpcError) => e);
    clock.advance(1_500);
    t.open();
    const req = await within(s.hung.promise, 10_000, 'the call to reach the server');
    const left = req.deadline! - clock.time;
    expect(left).toBe(3_500);
    clock.advance(3_700);
    expect(((await within(call, 10_000, 'the call to time out')) as RpcError).code).toBe(ErrorCode.Timeout);
  });
});
