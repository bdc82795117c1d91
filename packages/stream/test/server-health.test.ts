import { ErrorCode, RemoteError, RpcError, systemClock } from '@skein/core';
import { ManualClock, memoryLogger, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, type ActionHandler, type FailoverPoolOptions, type ServerHealthEvent } from '../src/index.js';
import { transport } from './harness.js';
import { localServer, str, textOf, type LocalServer } from './pool-harness.js';

const cleanup = cleanups();

/** A pool on a manual clock (its servers' connections on the real one), recording health events and log lines. */
function healthPool(servers: LocalServer[], opts: Omit<FailoverPoolOptions, 'transport' | 'servers'>) {
  const clock = new ManualClock();
  const events: string[] = [];
  const logger = memoryLogger();
  const pool = new FailoverPool({
    transport,
    servers: servers.map((s) => s.address),
    clock,
    logger,
    pool: { clock: systemClock },
    onServerHealth: (e: ServerHealthEvent) => events.push(`${e.kind} ${nameOf(servers, e.address)}`),
    ...opts,
  });
  cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
  return { pool, clock, events, logger };
}

const nameOf = (servers: LocalServer[], address: string): string => String.fromCharCode(97 + servers.findIndex((s) => s.address === address));

async function servers(n: number, table: (name: string) => Parameters<typeof localServer>[0]): Promise<LocalServer[]> {
  const out: LocalServer[] = [];
  for (let i = 0; i < n; i++) {
    const s = await localServer(table(String.fromCharCode(97 + i)));
    cleanup.push(() => s.server.close());
    out.push(s);
  }
  return out;
}

/** `n` calls one after the other; the names of the servers that answered, and the errors. */
async function calls(pool: FailoverPool, n: number, action = 'work'): Promise<{ by: string[]; errors: RpcError[] }> {
  const by: string[] = [];
  const errors: RpcError[] = [];
  for (let i = 0; i < n; i++) {
    try {
      by.push(textOf(await pool.call(action)));
    } catch (err) {
      errors.push(err as RpcError);
    }
  }
  return { by, errors };
}

describe('circuit breaker', () => {
  it('settles the call that opens it even when the logger throws writing so (the call never settled)', async () => {
    const [a, b] = await servers(2, (n) => ({
      work: () => {
        if (n === 'b') throw new Error('b is sick');
        return str(n);
      },
    }));
    const throwing = { debug() {}, info() { throw new Error('cannot write this line'); }, warn() { throw new Error('cannot write this line'); }, error() { throw new Error('cannot write this line'); } };
    const { pool, events } = healthPool([a!, b!], { logger: throwing, retries: 0, circuitBreaker: { minCalls: 4, failureRatio: 0.5, openMs: 1000, halfOpenCalls: 2 } });
    // Bounded only as a safety net: each call must settle, b's with its own error.
    const first = await within(calls(pool, 8), 5_000, 'eight calls');
    expect(first.by).toEqual(['a', 'a', 'a', 'a']);
    expect(first.errors.map((e) => e.code)).toEqual(Array(4).fill(ErrorCode.Internal));
    expect(events).toEqual(['circuit-open b']);
  });

  it('opens at the failure ratio once the window holds the minimum of calls, sends the server nothing while open, then probes and closes', async () => {
    let sick = true;
    const [a, b] = await servers(2, (n) => ({
      work: () => {
        if (n === 'b' && sick) throw new Error('b is sick');
        return str(n);
      },
    }));
    const { pool, clock, events, logger } = healthPool([a!, b!], { retries: 0, circuitBreaker: { minCalls: 4, failureRatio: 0.5, openMs: 1000, halfOpenCalls: 2 } });

    const first = await calls(pool, 8); // round-robin: 4 each, b's 4 fail
    expect(first.by).toEqual(['a', 'a', 'a', 'a']);
    expect(first.errors.map((e) => e.code)).toEqual(Array(4).fill(ErrorCode.Internal));
    expect(events).toEqual(['circuit-open b']);
    expect(pool.stats().map((s) => s.circuit)).toEqual(['closed', 'open']);
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => [l.msg, l.obj.why])).toEqual([
      ['circuit breaker opened: no calls to this server for a while', '4 of 4 calls failed in 10000 ms'],
    ]);

    const open = await calls(pool, 6);
    expect(open.by).toEqual(Array(6).fill('a'));
    expect(b!.counts.work).toBe(4);

    sick = false;
    clock.advance(1000);
    const after = await calls(pool, 6);
    expect(after.errors).toEqual([]);
    expect(events).toEqual(['circuit-open b', 'circuit-half-open b', 'circuit-closed b']);
    expect(after.by.filter((n) => n === 'b').length).toBeGreaterThanOrEqual(2);
    expect(pool.stats().map((s) => s.circuit)).toEqual(['closed', 'closed']);
  });

  it('opens again when a probe fails, and counts only what says the server is sick', async () => {
    const [a, b] = await servers(2, (n) => ({
      work: () => {
        if (n === 'b') throw new Error('b is sick');
        return str(n);
      },
      mine: () => {
        throw new RemoteError(7); // the method's own error: the server is fine
      },
    }));
    const { pool, clock, events } = healthPool([a!, b!], { retries: 0, circuitBreaker: { minCalls: 4, openMs: 1000, halfOpenCalls: 1 } });
    const own = await calls(pool, 20, 'mine');
    expect(own.errors.every((e) => e instanceof RemoteError)).toBe(true);
    expect(events).toEqual([]);

    // b's 10 answered calls count as good ones: it opens at its 10th failure (10 of 20), not its 4th.
    await calls(pool, 30);
    expect(events).toEqual(['circuit-open b']);
    expect(b!.counts.work).toBe(10);
    clock.advance(1000);
    await calls(pool, 2); // one of them is b's probe, which fails
    expect(events).toEqual(['circuit-open b', 'circuit-half-open b', 'circuit-open b']);
    expect(b!.counts.work).toBe(11);
  });

  it('fails calls at once with Unreachable (safe to retry) when every breaker is open', async () => {
    const [a] = await servers(1, () => ({ work: () => Promise.reject(new Error('down')) }));
    const { pool } = healthPool([a!], { retries: 0, circuitBreaker: { minCalls: 2 } });
    await calls(pool, 2);
    const { errors } = await calls(pool, 3);
    expect(errors.map((e) => [e.code, e.retry, e.message])).toEqual(
      Array(3).fill([ErrorCode.Unreachable, 'safe', 'the circuit breaker of every server is open (1)']),
    );
    expect(a!.counts.work).toBe(2);
  });
});

describe('calls pinned to one server (sendTo)', () => {
  // A cluster that routes every call by name (a route function, `$to`) sends nothing through the
  // pool's own strategy: unless pinned calls count, its breakers and scores never see a failure.
  it('count for its breaker and outlier score as the pool\'s own calls do, though no breaker stops them', async () => {
    const [a, b, c] = await servers(3, (n) => ({
      work: () => {
        if (n === 'b') throw new Error('b is sick');
        return str(n);
      },
    }));
    const { pool, clock, events } = healthPool([a!, b!, c!], { retries: 0, circuitBreaker: { minCalls: 4, failureRatio: 0.5 }, outlierEjection: { intervalMs: 1000, minCalls: 4 } });
    const pinned = (to: LocalServer): Promise<string | ErrorCode> =>
      new Promise((resolve) => pool.sendTo(to.address, 'work', new Uint8Array(), {}, (err, reply) => resolve(err ? (err as RpcError).code : textOf(reply!))));
    for (const s of [a!, c!]) for (let i = 0; i < 4; i++) expect(await pinned(s)).toBe(s === a ? 'a' : 'c');
    for (let i = 0; i < 4; i++) expect(await pinned(b!)).toBe(ErrorCode.Internal);
    expect(events).toEqual(['circuit-open b']);
    // Still pinned to b: the caller chose it, so the open breaker does not stop the call.
    expect(await pinned(b!)).toBe(ErrorCode.Internal);
    expect(b!.counts.work).toBe(5);
    // The pool's own strategy leaves b out.
    expect((await calls(pool, 4)).by.sort()).toEqual(['a', 'a', 'c', 'c']);
    // And its score stands out: b's pinned failures against a's and c's successes.
    clock.advance(1000);
    expect(events).toEqual(['circuit-open b', 'ejected b']);
  });
});

describe('outlier ejection', () => {
  /** Servers whose `work` takes `delays[i]` ms of the pool's manual clock. */
  async function timed(delays: number[], opts: FailoverPoolOptions['outlierEjection']) {
    let clock: ManualClock | undefined;
    const list = await servers(delays.length, (n) => ({
      work: () => {
        clock!.stall(delays[n.charCodeAt(0) - 97]!);
        return str(n);
      },
    }));
    const h = healthPool(list, { outlierEjection: opts });
    clock = h.clock;
    return { ...h, list };
  }

  it('gives way when every server is ejected or its breaker is open: calls go to the ejected one, never through an open breaker', async () => {
    let clock: ManualClock | undefined;
    // a is slow (ejected as an outlier); b and c fail every call (their breakers open).
    const [a, b, c] = await servers(3, (n) => ({
      work: () => {
        if (n !== 'a') throw new Error(`${n} is sick`);
        clock!.stall(200);
        return str(n);
      },
    }));
    const h = healthPool([a!, b!, c!], { retries: 0, circuitBreaker: { minCalls: 4, failureRatio: 0.5 }, outlierEjection: { intervalMs: 1000, minCalls: 4 } });
    clock = h.clock;
    const pinned = (to: LocalServer): Promise<unknown> => new Promise((resolve) => h.pool.sendTo(to.address, 'work', new Uint8Array(), {}, resolve));
    for (const s of [a!, b!, c!]) for (let i = 0; i < 4; i++) await pinned(s);
    h.clock.advance(1000);
    expect(h.events).toEqual(['circuit-open b', 'circuit-open c', 'ejected a']);
    const out = await calls(h.pool, 3);
    expect(out.errors).toEqual([]);
    expect(out.by).toEqual(['a', 'a', 'a']);
    expect([b!.counts.work, c!.counts.work]).toEqual([4, 4]);
  });

  it('takes the slowest servers out of rotation, at most the share allowed, and brings them back after ejectMs', async () => {
    const { pool, clock, events, logger } = await timed([1, 1, 2, 200, 100], { intervalMs: 1000, minCalls: 4, ejectMs: 3000, maxEjectedShare: 0.2 });
    await calls(pool, 20);
    clock.advance(1000);
    expect(events).toEqual(['ejected d']); // e is slow too, but one of five is the share allowed
    expect(pool.stats().map((s) => s.ejected)).toEqual([false, false, false, true, false]);
    expect(logger.lines.find((l) => l.msg === 'server ejected as an outlier')?.obj.why).toBe('mean latency 200.0 ms against 2.0 ms for the median server');

    const out = await calls(pool, 20);
    expect(out.by).not.toContain('d');
    clock.advance(1000); // e, still slow, may not go while d is out
    expect(events).toEqual(['ejected d']);
    clock.advance(2000);
    expect(events).toEqual(['ejected d', 'restored d']);
    const back = await calls(pool, 20);
    expect(back.by).toContain('d');
  });

  it('ejects a server whose share of failed calls stands out, but none when all are alike', async () => {
    const [a, b, c] = await servers(3, (n) => {
      let i = 0;
      return { work: () => (n === 'c' && i++ % 2 === 0 ? Promise.reject(new Error('flaky')) : str(n)), slow: () => str(n) };
    });
    const { pool, clock, events } = healthPool([a!, b!, c!], { retries: 0, outlierEjection: { intervalMs: 1000, minCalls: 4 } });
    await calls(pool, 12, 'slow');
    clock.advance(1000);
    expect(events).toEqual([]);
    await calls(pool, 12);
    clock.advance(1000);
    expect(events).toEqual(['ejected c']);
    expect(pool.stats().map((s) => s.ejected)).toEqual([false, false, true]);
  });

  it('does not compare fewer than minServers servers', async () => {
    const list = await servers(2, (n) => ({ work: () => (n === 'b' ? Promise.reject(new Error('down')) : str(n)) }));
    const three = healthPool(list, { retries: 0, outlierEjection: { intervalMs: 1000, minCalls: 4 } });
    const two = healthPool(list, { retries: 0, outlierEjection: { intervalMs: 1000, minCalls: 4, minServers: 2 } });
    await calls(three.pool, 10);
    await calls(two.pool, 10);
    three.clock.advance(1000);
    two.clock.advance(1000);
    expect(three.events).toEqual([]);
    expect(two.events).toEqual(['ejected b']);
  });
});

describe('streams through the pool', () => {
  // A stream opens (its OPEN is written) before its server says anything of it: a server that
  // refuses every stream after the open must count against itself as a call refused so does.

  /** `n` streams one after the other; the names of the servers whose items came, and the errors. */
  async function streams(pool: FailoverPool, n: number, action = 'feed'): Promise<{ by: string[]; errors: RpcError[] }> {
    const by: string[] = [];
    const errors: RpcError[] = [];
    for (let i = 0; i < n; i++) {
      const s = pool.openStream(action);
      try {
        for await (const item of s) by.push(textOf(item));
        await s.result;
      } catch (err) {
        errors.push(err as RpcError);
      }
    }
    return { by, errors };
  }

  /** A stream handler that streams `n`, its server's name, then answers it; or refuses when `refusal()` gives an error. */
  const feed = (n: string, refusal: () => Error | undefined): ActionHandler => async (req) => {
    const refused = refusal();
    if (refused) throw refused;
    await req.stream!.write(str(n));
    return str(n);
  };

  /** Servers whose `feed` streams their name, but `sick`'s, which refuses with `refusal()`; `mine` fails with the method's own error. */
  const table = (sick: string, refusal: () => Error) => (n: string) => ({
    feed: feed(n, () => (n === sick ? refusal() : undefined)),
    mine: () => Promise.reject(new RemoteError(7)),
  });

  it.each([
    ['Internal (a crashed handler)', ErrorCode.Internal, () => new Error('b is sick')],
    ['Overloaded (shedding load)', ErrorCode.Overloaded, () => new RpcError(ErrorCode.Overloaded, 'shedding')],
  ])('a server refusing every stream with %s opens its breaker, and gets no stream while open', async (_, code, refusal) => {
    const [a, b] = await servers(2, table('b', refusal));
    const { pool, events } = healthPool([a!, b!], { retries: 0, circuitBreaker: { minCalls: 4, failureRatio: 0.5, openMs: 1000 } });
    const first = await streams(pool, 8); // round-robin: 4 each, b's 4 refused after they opened
    expect(first.by).toEqual(['a', 'a', 'a', 'a']);
    expect(first.errors.map((e) => e.code)).toEqual(Array(4).fill(code));
    expect(events).toEqual(['circuit-open b']);
    const open = await streams(pool, 4);
    expect(open.by).toEqual(Array(4).fill('a'));
    expect(b!.counts.feed).toBe(4);
  });

  it('a stream ending in the method\'s own error does not count against its server', async () => {
    const [a, b] = await servers(2, table('none', () => new Error('unused')));
    const { pool, events } = healthPool([a!, b!], { retries: 0, circuitBreaker: { minCalls: 2 } });
    const own = await streams(pool, 6, 'mine');
    expect(own.errors.map((e) => e instanceof RemoteError)).toEqual(Array(6).fill(true));
    expect(events).toEqual([]);
  });

  it.each([
    ['cancelled before its server said anything counts as a cancelled call does', false],
    ['still open counts once its first item came: its handler runs', true],
  ])('a probe stream %s: the breaker closes', async (_, talks) => {
    let sick = true;
    const [a, b] = await servers(2, (n) => ({
      feed: feed(n, () => (n === 'b' && sick ? new Error('b is sick') : undefined)),
      hold: async (req) => {
        if (talks) await req.stream!.write(str(n));
        return new Promise<Uint8Array>(() => {});
      },
    }));
    const { pool, clock, events } = healthPool([a!, b!], { retries: 0, circuitBreaker: { minCalls: 4, openMs: 1000, halfOpenCalls: 1 } });
    await streams(pool, 8);
    expect(events).toEqual(['circuit-open b']);
    sick = false;
    clock.advance(1000);
    // Round-robin, b letting one probe through: one each. Both opened before their servers ran them.
    const held = [pool.openStream('hold'), pool.openStream('hold')];
    cleanup.push(() => held.forEach((s) => s.cancel()));
    await waitFor(() => (a!.counts.hold ?? 0) + (b!.counts.hold ?? 0) === 2, { what: 'both streams at their servers' });
    expect(b!.counts.hold).toBe(1);
    if (talks) for (const s of held) await s[Symbol.asyncIterator]().next();
    else for (const s of held) s.cancel();
    expect(events).toEqual(['circuit-open b', 'circuit-half-open b', 'circuit-closed b']);
  });

  it('a probe stream that spoke is no silent probe: its call timeout passing later gives nothing up and logs nothing', async () => {
    let sick = true;
    const [a, b] = await servers(2, (n) => ({
      feed: feed(n, () => (n === 'b' && sick ? new Error('b is sick') : undefined)),
      hold: async (req) => {
        await req.stream!.write(str(n));
        return new Promise<Uint8Array>(() => {});
      },
    }));
    const { pool, clock, events, logger } = healthPool([a!, b!], {
      retries: 0,
      circuitBreaker: { minCalls: 4, openMs: 1000, halfOpenCalls: 1 },
      pool: { clock: systemClock, stream: { timeoutMs: 60_000 } },
    });
    await streams(pool, 8);
    sick = false;
    clock.advance(1000);
    const held = [pool.openStream('hold'), pool.openStream('hold')];
    cleanup.push(() => held.forEach((s) => s.cancel()));
    for (const s of held) await s[Symbol.asyncIterator]().next();
    expect(events).toEqual(['circuit-open b', 'circuit-half-open b', 'circuit-closed b']);
    clock.advance(60_000);
    expect(logger.lines.filter((l) => /probe stream/.test(l.msg ?? ''))).toEqual([]);
  });

  it('a probe stream silent for the pool\'s call timeout gives its place to another probe, uncounted: the breaker can close', async () => {
    let sick = true;
    const [a, b] = await servers(2, (n) => ({
      feed: feed(n, () => (n === 'b' && sick ? new Error('b is sick') : undefined)),
      // A watch that has nothing to say yet: its server is fine, it just stays silent.
      hold: () => new Promise<Uint8Array>(() => {}),
      work: () => str(n),
    }));
    const { pool, clock, events, logger } = healthPool([a!, b!], {
      retries: 0,
      circuitBreaker: { minCalls: 4, openMs: 1000, halfOpenCalls: 1 },
      pool: { clock: systemClock, stream: { timeoutMs: 60_000 } },
    });
    await streams(pool, 8);
    expect(events).toEqual(['circuit-open b']);
    sick = false;
    clock.advance(1000);
    const held = [pool.openStream('hold'), pool.openStream('hold')];
    cleanup.push(() => held.forEach((s) => s.cancel()));
    await waitFor(() => (a!.counts.hold ?? 0) + (b!.counts.hold ?? 0) === 2, { what: 'both streams at their servers' });
    expect(b!.counts.hold).toBe(1);
    // The silent probe holds b's one place: calls go to a alone.
    expect((await calls(pool, 4)).by).toEqual(['a', 'a', 'a', 'a']);
    expect(events).toEqual(['circuit-open b', 'circuit-half-open b']);
    clock.advance(60_000);
    // Its place is free: a call probes b, succeeds, and the breaker closes (silence was no failure).
    const after = await calls(pool, 4);
    expect(after.errors).toEqual([]);
    expect(after.by).toContain('b');
    expect(events).toEqual(['circuit-open b', 'circuit-half-open b', 'circuit-closed b']);
    expect(logger.lines.some((l) => /probe stream/.test(l.msg ?? ''))).toBe(true);
  });

  it('a server refusing every stream stands out as an outlier and is ejected', async () => {
    const [a, b, c] = await servers(3, table('c', () => new RpcError(ErrorCode.Overloaded, 'shedding')));
    const { pool, clock, events } = healthPool([a!, b!, c!], { retries: 0, outlierEjection: { intervalMs: 1000, minCalls: 4 } });
    const first = await streams(pool, 12);
    expect(first.errors.map((e) => e.code)).toEqual(Array(4).fill(ErrorCode.Overloaded));
    clock.advance(1000);
    expect(events).toEqual(['ejected c']);
    const after = await streams(pool, 6);
    expect(after.errors).toEqual([]);
    expect(c!.counts.feed).toBe(4);
  });
});

describe('options', () => {
  it.each([
    [{ circuitBreaker: { failureRatio: 0 } }, 'circuitBreaker.failureRatio must be a number in (0, 1], got 0'],
    [{ circuitBreaker: { failureRatio: 1.5 } }, 'circuitBreaker.failureRatio must be a number in (0, 1], got 1.5'],
    [{ circuitBreaker: { minCalls: 2.5 } }, 'circuitBreaker.minCalls must be a positive integer, got 2.5'],
    [{ circuitBreaker: { openMs: 0 } }, 'circuitBreaker.openMs must be a number of ms in 1..2147483647, got 0'],
    [{ circuitBreaker: { halfOpenCalls: 0 } }, 'circuitBreaker.halfOpenCalls must be a positive integer, got 0'],
    [{ outlierEjection: { maxEjectedShare: 2 } }, 'outlierEjection.maxEjectedShare must be a number in (0, 1], got 2'],
    [{ outlierEjection: { latencyFactor: -1 } }, 'outlierEjection.latencyFactor must be a positive number, got -1'],
    [{ outlierEjection: { intervalMs: NaN } }, 'outlierEjection.intervalMs must be a number of ms in 1..2147483647, got NaN'],
  ])('rejects %o with InvalidArgument', (opts, message) => {
    const clock = new ManualClock();
    let err: unknown;
    try {
      new FailoverPool({ transport, servers: ['127.0.0.1:1'], clock, ...opts });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(ErrorCode.InvalidArgument);
    expect((err as RpcError).message).toBe(message);
    expect(clock.running).toBe(0);
  });
});
