import { ErrorCode, RpcError, parseAddress, type FrameConn } from '@skein/core';
import { deferred, freePort, handleCounts, leakedHandles, ManualClock, portOf, settleAll, sleep, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, ConnPool, RpcServer, createRouter, type ConnPoolOptions, type PoolState, type Reply } from '../src/index.js';
import { transport } from './harness.js';
import { requestFrameSpec } from '../src/wire/frame-specs.js';
import { DEFAULT_LIMITS } from '../src/wire/limits.js';
import { PING_ACTION, RESPONSE_HEADER_LENGTH, ResponseFlag, readRequestHeader, writeResponseHeader, type RequestHeader } from '../src/wire/protocol.js';
import { childServer, countingTransport, localServer, str, textOf, type ChildServer } from './pool-harness.js';

const cleanup = cleanups();

function pool(opts: Omit<ConstructorParameters<typeof ConnPool>[0], 'transport'>): ConnPool {
  const p = new ConnPool({ transport, ...opts });
  cleanup.push(() => p.destroy());
  return p;
}

async function local(...args: Parameters<typeof localServer>) {
  const s = await localServer(...args);
  cleanup.push(() => s.server.close());
  return s;
}

async function child(name: string, port?: number): Promise<ChildServer> {
  const c = await childServer(name, port);
  cleanup.push(() => {
    c.proc.kill('SIGKILL');
    return c.proc.exited;
  });
  return c;
}

/** Tracks whether each promise has settled, without waiting on it. */
function track<T>(ps: Promise<T>[]) {
  const settled = ps.map(() => false);
  ps.forEach((p, i) => p.then(() => (settled[i] = true), () => (settled[i] = true)));
  return { settled, all: settleAll(ps) };
}

describe('options', () => {
  it('rejects a bad stream option when built, not on every reconnect', () => {
    const address = '127.0.0.1:1';
    expect(() => new ConnPool({ transport, address, stream: { window: 0 } })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/stream\.window/) }),
    );
    expect(() => new ConnPool({ transport, address, stream: { tickMs: -1 } })).toThrow(/stream\.tickMs/);
    expect(() => new ConnPool({ transport, address, maxConnections: 1.5 })).toThrow(/maxConnections must be a positive integer/);
  });

  it('checks every option of its own with a message naming it, before any connect', () => {
    const address = '127.0.0.1:1';
    const bad: [Partial<ConnPoolOptions>, RegExp][] = [
      [{ maxConnections: 0 }, /^maxConnections must be a positive integer, got 0$/],
      [{ idleTimeoutMs: -1 }, /^idleTimeoutMs must be 0 or a positive number, got -1$/],
      [{ idleMs: 5000 } as never, /^ConnPool option idleMs is now idleTimeoutMs$/],
      [{ stream: { streamWindow: 4096 } } as never, /^ClientStream option stream\.streamWindow is now stream\.streamWindowBytes$/],
      [{ stream: { streamWindowBytes: 0 } }, /^stream\.streamWindowBytes must be an integer in 1\.\.4294967295, got 0$/],
      [{ maxConnectionAgeMs: NaN }, /^maxConnectionAgeMs must be a positive number/],
      [{ maxQueued: 0.5 }, /^maxQueued must be a positive integer, got 0.5$/],
      [{ connectBudgetMs: Infinity }, /^connectBudgetMs must be a positive number/],
      [{ tickMs: 0 }, /^tickMs must be a number of ms in 1\.\.2147483647, got 0$/],
      [{ tickMs: 2 ** 32 }, /^tickMs must be a number of ms in 1\.\.2147483647/],
      [{ backoff: { initialMs: Infinity } }, /^backoff\.initialMs must be a positive number, got Infinity$/],
      [{ backoff: { maxMs: 2 ** 31 } }, /^backoff\.maxMs must be a number of ms in 1\.\.2147483647/], // a retry timer would fire at once
      [{ backoff: { initialMs: 500, maxMs: 100 } }, /^backoff\.maxMs must be at least initialMs \(500\), got 100$/],
      [{ backoff: { multiplier: Infinity } }, /^backoff\.multiplier must be a finite number of at least 1, got Infinity$/],
      [{ onStateChange: 'log' as never }, /^onStateChange must be a function$/],
      [{ stream: { keepaliveTimeoutMs: 0 } }, /^stream\.keepaliveTimeoutMs must be a positive number, got 0$/],
      [{ stream: { window: 2.5 } }, /^stream\.window must be a positive integer, got 2.5$/],
    ];
    for (const [opts, message] of bad) {
      expect(() => new ConnPool({ transport, address, ...opts }), JSON.stringify(opts)).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(message) }),
      );
    }
  });
});

describe('lazy connect', () => {
  it('opens no connection until the first call, then exactly one', async () => {
    const s = await local({ who: () => str('a') });
    const p = pool({ address: s.address });
    await sleep(50); // event-loop turns in which an eager pool would have connected
    expect(p.state).toBe('idle');
    expect(s.accepted).toBe(0);
    expect(p.stats()).toEqual({ state: 'idle', inFlight: 0, queued: 0, connections: 0 });
    expect(textOf(await p.call('who'))).toBe('a');
    expect(s.accepted).toBe(1);
    expect(p.state).toBe('ready');
  });

  it('sends the calls made while connecting, in order', async () => {
    const seen: number[] = [];
    const s = await local({ n: (req) => void seen.push(req.msg[0]!) });
    const p = pool({ address: s.address });
    const calls = Array.from({ length: 50 }, (_, i) => p.call('n', new Uint8Array([i])));
    expect(p.state).toBe('connecting');
    expect(p.queued).toBe(50);
    await Promise.all(calls);
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('scaling', () => {
  it('opens a connection per full window up to maxConnections, and never more', async () => {
    const gate = deferred();
    const conns = new Set<number>();
    let running = 0;
    const s = await local({
      slow: async (req) => {
        conns.add(req.conn.id);
        running++;
        await gate.promise;
      },
    });
    const p = pool({ address: s.address, maxConnections: 3, stream: { window: 4 } });
    const first = Array.from({ length: 12 }, () => p.call('slow'));
    await waitFor(() => p.connections === 3, { what: '3 connections' });
    // Three full windows: new calls spread over all three connections.
    const more = Array.from({ length: 8 }, () => p.call('slow'));
    await waitFor(() => running === 12, { what: '12 calls running' });
    expect(conns.size).toBe(3);
    const extra = Array.from({ length: 30 }, () => p.call('slow'));
    await sleep(50);
    expect(s.accepted).toBe(3);
    expect(p.stats()).toMatchObject({ state: 'ready', connections: 3, inFlight: 12, queued: 38 });
    gate.resolve();
    await within(Promise.all([...first, ...more, ...extra]), 10_000, 'all calls');
    expect(s.counts.slow).toBe(50);
    expect(s.accepted).toBe(3);
  });

  it('closes extra connections idle for idleTimeoutMs but keeps one', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    const s = await local({ slow: () => gate.promise, who: () => str('a') });
    const p = pool({ address: s.address, clock, maxConnections: 3, idleTimeoutMs: 5000, stream: { window: 2, keepaliveMs: 0 } });
    const calls = Array.from({ length: 6 }, () => p.call('slow'));
    await waitFor(() => p.connections === 3, { what: '3 connections' });
    gate.resolve();
    await Promise.all(calls);
    clock.advance(4000);
    await sleep(50);
    expect(s.server.connections).toBe(3); // not idle long enough yet
    clock.advance(2000);
    await waitFor(() => p.connections === 1, { what: 'pool to close 2 idle connections' });
    await waitFor(() => s.server.connections === 1, { what: 'server to see 2 connections close' });
    expect(textOf(await p.call('who'))).toBe('a');
    expect(s.accepted).toBe(3);
  });

  it('keeps the connections it opened under load with idleTimeoutMs: 0, as the server does', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    const s = await local({ slow: () => gate.promise, who: () => str('a') });
    const p = pool({ address: s.address, clock, maxConnections: 3, idleTimeoutMs: 0, stream: { window: 2, keepaliveMs: 0 } });
    const calls = Array.from({ length: 6 }, () => p.call('slow'));
    await waitFor(() => p.connections === 3, { what: '3 connections' });
    gate.resolve();
    await Promise.all(calls);
    for (let i = 0; i < 10; i++) {
      clock.advance(60 * 60_000); // an hour per tick: any positive idle time would have passed
      await sleep(10);
    }
    expect(p.connections).toBe(3);
    expect(s.server.connections).toBe(3);
    expect(textOf(await p.call('who'))).toBe('a');
    expect(s.accepted).toBe(3);
  });

  it('retires a connection over maxConnectionAgeMs once a fresh one is up, letting its calls finish', async () => {
    const clock = new ManualClock();
    const gate = deferred();
    const conns: number[] = [];
    const s = await local({
      slow: () => gate.promise.then(() => str('slow')),
      who: (req) => void conns.push(req.conn.id),
    });
    const p = pool({ address: s.address, clock, maxConnectionAgeMs: 10_000, stream: { keepaliveMs: 0, timeoutMs: 60_000 } });
    await p.call('who');
    const held = p.call('slow');
    await waitFor(() => p.inFlight === 1);
    clock.advance(10_000); // past the age, whatever the jitter
    await waitFor(() => s.accepted === 2, { what: 'a replacement connection' });
    await waitFor(() => p.connections === 2); // the old one drains
    await p.call('who');
    expect(new Set(conns).size).toBe(2); // the new call went to the new connection
    gate.resolve();
    expect(textOf(await held)).toBe('slow');
    await waitFor(() => p.connections === 1 && s.server.connections === 1, { what: 'the old connection to close' });
  });
});

describe('bounded queue and connect budget', () => {
  it('fails calls beyond maxQueued with Overloaded while connecting', async () => {
    const clock = new ManualClock();
    const address = `127.0.0.1:${await freePort()}`; // nobody listens
    const p = pool({ address, clock, maxQueued: 3, connectBudgetMs: 10_000 });
    const waiting = track([p.call('x'), p.call('x'), p.call('x')]);
    const err = await p.call('x').catch((e) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(ErrorCode.Overloaded);
    expect(err.retry).toBe('safe');
    expect(p.queued).toBe(3);
    p.destroy();
    const { errors } = await waiting.all;
    expect(errors.map((e) => (e as RpcError).code)).toEqual([ErrorCode.Closed, ErrorCode.Closed, ErrorCode.Closed]);
  });

  it('fails waiting calls with Unreachable only once the connect budget is spent', async () => {
    const clock = new ManualClock();
    const address = `127.0.0.1:${await freePort()}`;
    const states: PoolState[] = [];
    const p = pool({ address, clock, connectBudgetMs: 10_000, tickMs: 1000, onStateChange: (s) => states.push(s) });
    const calls = track([p.call('x'), p.call('x')]);
    await waitFor(() => p.state === 'backoff', { what: 'first connect to fail' });
    // 9 of the 10 budget seconds, one tick at a time: connect attempts keep failing, calls keep waiting.
    for (let t = 0; t < 9; t++) {
      clock.advance(1000);
      await waitFor(() => p.state === 'backoff', { what: 'reconnect attempt to fail' });
      await sleep(1);
      expect(calls.settled).toEqual([false, false]);
    }
    expect(states.filter((s) => s === 'connecting').length).toBeGreaterThan(2); // it kept retrying
    expect(p.healthy).toBe(false);
    clock.advance(1000);
    const { errors } = await within(calls.all, 5000, 'calls after the budget');
    for (const e of errors) {
      expect(e).toBeInstanceOf(RpcError);
      expect((e as RpcError).code).toBe(ErrorCode.Unreachable);
      expect((e as RpcError).retry).toBe('safe');
    }
    expect(errors).toHaveLength(2);
    // The budget is spent: a new call fails at once instead of waiting another 10 s.
    await expect(p.call('x')).rejects.toMatchObject({ code: ErrorCode.Unreachable });
  });

  it('with failFast, fails at once while the server is unreachable', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const p = pool({ address, connectBudgetMs: 60_000 });
    const first = await p.call('x', undefined, { failFast: true }).catch((e) => e);
    expect(first.code).toBe(ErrorCode.Unreachable); // failed when the first connect failed, not after 60 s
    expect(p.state === 'backoff' || p.state === 'connecting').toBe(true);
    await expect(p.call('x', undefined, { failFast: true })).rejects.toMatchObject({ code: ErrorCode.Unreachable, retry: 'safe' });
  });

  it('times out a call that waited for a connection as never sent', async () => {
    const clock = new ManualClock();
    const address = `127.0.0.1:${await freePort()}`;
    const p = pool({ address, clock, connectBudgetMs: 60_000 });
    const call = p.call('x', undefined, { timeoutMs: 2000 }).catch((e) => e);
    await waitFor(() => p.state === 'backoff');
    clock.advance(3000);
    const err = await within(call, 5000);
    expect(err.code).toBe(ErrorCode.Timeout);
    expect(err.retry).toBe('safe');
  });

  it('rejects a waiting call at once when its signal aborts', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const p = pool({ address, connectBudgetMs: 60_000 });
    const ac = new AbortController();
    const call = p.call('x', undefined, { signal: ac.signal }).catch((e) => e);
    ac.abort();
    expect((await within(call, 5000)).code).toBe(ErrorCode.Cancelled);
    expect(p.queued).toBe(0);
  });
});

describe('waiting count', () => {
  it('stays equal to the calls waiting through aborts, expiry, overflow and the drain on reconnect', async () => {
    const clock = new ManualClock();
    const port = await freePort(); // nobody listens yet
    const address = `127.0.0.1:${port}`;
    const p = pool({ address, clock, maxQueued: 30, connectBudgetMs: 60_000, tickMs: 1000, backoff: { maxMs: 1000 }, stream: { keepaliveMs: 0 } });
    const short = track([p.call('who', undefined, { timeoutMs: 1500 }), p.call('who', undefined, { timeoutMs: 1500 })]);
    const acs = Array.from({ length: 20 }, () => new AbortController());
    const aborted = track(acs.map((ac) => p.call('who', undefined, { signal: ac.signal, timeoutMs: 30_000 })));
    const kept = Array.from({ length: 5 }, () => p.call('who', undefined, { timeoutMs: 30_000 }));
    expect(p.queued).toBe(27);
    await waitFor(() => p.state === 'backoff', { what: 'first connect to fail' });
    // Aborts leave the count at once; their entries are dropped later.
    acs.forEach((ac, i) => {
      ac.abort();
      expect(p.queued).toBe(26 - i);
    });
    expect(p.queued).toBe(7);
    expect((await within(aborted.all, 5000)).errors.map((e) => (e as RpcError).code)).toEqual(acs.map(() => ErrorCode.Cancelled));
    // Room again for 23 more (the aborted ones no longer count), then the queue is full.
    for (let i = 0; i < 23; i++) kept.push(p.call('who', undefined, { timeoutMs: 30_000 }));
    expect(p.queued).toBe(30);
    await expect(p.call('who')).rejects.toMatchObject({ code: ErrorCode.Overloaded });
    expect(p.queued).toBe(30);
    // Expiry: the two short calls time out on a tick.
    for (let t = 0; t < 2; t++) {
      clock.advance(1000);
      await waitFor(() => p.state !== 'connecting', { what: 'a connect attempt to finish' });
    }
    expect((await within(short.all, 5000)).errors.map((e) => (e as RpcError).code)).toEqual([ErrorCode.Timeout, ErrorCode.Timeout]);
    expect(p.queued).toBe(28);
    // An abort after the expiry sweep, then the drain: the server comes up and every waiting call is sent.
    const late = new AbortController();
    const lateCall = p.call('who', undefined, { signal: late.signal, timeoutMs: 30_000 }).catch((e) => e);
    expect(p.queued).toBe(29);
    late.abort();
    expect(p.queued).toBe(28);
    expect((await lateCall).code).toBe(ErrorCode.Cancelled);
    await local({ who: () => str('up') }, address);
    for (let i = 0; i < 100 && p.state !== 'ready'; i++) {
      clock.advance(1000);
      await waitFor(() => p.state !== 'connecting', { what: 'a connect attempt to finish' });
    }
    expect(p.state).toBe('ready');
    const replies = await within(Promise.all(kept), 5000, 'the waiting calls');
    expect(replies.map(textOf)).toEqual(kept.map(() => 'up'));
    expect(p.stats()).toMatchObject({ inFlight: 0, queued: 0 });
  });
});

describe('health recovers', () => {
  it('goes backoff → ready when its server restarts on the same port, and routes to it again', async () => {
    const first = await child('first');
    const states: PoolState[] = [];
    const p = pool({
      address: first.address,
      backoff: { initialMs: 20, maxMs: 200 },
      connectBudgetMs: 60_000,
      onStateChange: (s) => states.push(s),
    });
    expect(textOf(await p.call('who'))).toBe('first');
    expect(states).toEqual(['connecting', 'ready']);
    first.proc.kill('SIGKILL');
    await first.gone();
    await waitFor(() => p.state === 'backoff', { what: 'backoff after the kill' });
    expect(p.healthy).toBe(false);
    // A call made while the server is down waits for it (within the connect budget).
    const during = p.call('who');
    await waitFor(() => states.filter((s) => s === 'connecting').length >= 3, { what: 'reconnect attempts' });
    const second = await child('second', first.port);
    expect(textOf(await within(during, 20_000, 'call made during the outage'))).toBe('second');
    expect(p.state).toBe('ready');
    expect(p.healthy).toBe(true);
    const afterKill = states.slice(2);
    // The kill closes the idle socket as cleanly as an idle close would: the pool reconnects at
    // once, and only the refused connect makes it an outage.
    expect(afterKill.slice(0, 2)).toEqual(['connecting', 'backoff']);
    expect(afterKill.at(-1)).toBe('ready');
    expect(afterKill.slice(0, -1).every((s) => s === 'backoff' || s === 'connecting')).toBe(true);
    expect(textOf(await p.call('who'))).toBe('second');
    second.proc.kill('SIGKILL');
  });
});

describe('health needs an answer, not a handshake', () => {
  it('never goes ready nor routes a call to a SIGSTOPped server whose kernel still accepts connections, and recovers on SIGCONT', async () => {
    const server = await child('frozen');
    const counting = countingTransport();
    const states: PoolState[] = [];
    const p = new ConnPool({
      transport: counting,
      address: server.address,
      connectBudgetMs: 60_000,
      backoff: { initialMs: 20, maxMs: 100 },
      stream: { keepaliveMs: 100, keepaliveTimeoutMs: 400, tickMs: 50 },
      onStateChange: (s) => states.push(s),
    });
    cleanup.push(() => p.destroy());
    expect(textOf(await p.call('who'))).toBe('frozen');
    server.proc.kill('SIGSTOP');
    cleanup.push(() => server.proc.kill('SIGCONT'));
    await waitFor(() => p.state !== 'ready', { what: 'keepalive to find the server frozen' });
    const readies = states.filter((s) => s === 'ready').length;
    const connected = counting.connected;
    const calls = track(Array.from({ length: 3 }, () => p.call('who', undefined, { timeoutMs: 60_000 })));
    // The stopped server's kernel still completes handshakes from its backlog: two of them.
    await waitFor(() => counting.connected >= connected + 2, { what: 'two connects to the frozen server', timeoutMs: 20_000 });
    expect(states.filter((s) => s === 'ready').length).toBe(readies);
    expect(p.healthy).toBe(false);
    expect(p.stats()).toMatchObject({ inFlight: 0, queued: 3 }); // still waiting in the pool, on no connection
    expect(calls.settled).toEqual([false, false, false]);
    server.proc.kill('SIGCONT');
    const { ok } = await within(calls.all, 20_000, 'the calls made during the freeze');
    expect(ok.map(textOf)).toEqual(['frozen', 'frozen', 'frozen']);
    expect(p.state).toBe('ready');
    expect(p.healthy).toBe(true);
  });

  it('sends the calls queued while connecting only once the first ping is answered', async () => {
    // A bare peer that records the requests it gets and answers only what the test tells it to.
    const got: RequestHeader[] = [];
    let peer: FrameConn | undefined;
    const listener = await transport.listen(parseAddress('127.0.0.1:0'), requestFrameSpec(DEFAULT_LIMITS), (conn) => {
      peer = conn;
      conn.bind({ frame: (bytes, start) => void got.push(readRequestHeader(bytes.subarray(start))), drain: () => {}, close: () => {} });
    });
    cleanup.push(() => listener.close());
    const { port } = listener.address as { port: number };
    const p = pool({ address: `127.0.0.1:${port}` });
    const calls = Array.from({ length: 3 }, () => p.call(7).catch((e) => e));
    const isCall = (h: RequestHeader) => h.action === 7;
    const ping = await waitFor(() => got.find((h) => h.action === PING_ACTION), { what: 'the first ping' });
    await sleep(50); // turns in which calls sent without waiting for the pong would arrive
    expect(got.filter(isCall)).toHaveLength(0);
    expect(p.stats()).toMatchObject({ state: 'connecting', inFlight: 0, queued: 3 });
    const pong = new Uint8Array(RESPONSE_HEADER_LENGTH);
    writeResponseHeader(pong, ResponseFlag.Ok, 0, ping.seq, 0);
    peer!.write(pong);
    await waitFor(() => got.filter(isCall).length === 3, { what: 'the three calls' });
    expect(p.stats()).toMatchObject({ state: 'ready', inFlight: 3, queued: 0 });
    p.destroy();
    expect((await Promise.all(calls)).map((e) => e.code)).toEqual([ErrorCode.IO, ErrorCode.IO, ErrorCode.IO]);
  });
});

describe('health recovers fully', () => {
  it('gives a second outage a fresh connect budget after recovering from the first', async () => {
    const clock = new ManualClock();
    const port = await freePort();
    const up = async () => local({ who: () => str('up') }, `127.0.0.1:${port}`);
    /** Advances a tick at a time until the pool reaches `state` (each reconnect is real I/O). */
    const until = async (state: string) => {
      for (let i = 0; i < 100 && p.state !== state; i++) {
        clock.advance(1000);
        await waitFor(() => p.state !== 'connecting', { what: 'a connect attempt to finish' });
      }
      expect(p.state).toBe(state);
    };
    const p = pool({ address: `127.0.0.1:${port}`, clock, connectBudgetMs: 10_000, backoff: { maxMs: 1000 }, stream: { keepaliveMs: 0 } });
    let s = await up();
    await p.call('who');
    // Outage 1, longer than the budget: a call made now fails at once.
    await s.server.close();
    await waitFor(() => p.state === 'backoff');
    for (let t = 0; t < 12; t++) {
      clock.advance(1000);
      await waitFor(() => p.state === 'backoff');
    }
    await expect(p.call('who')).rejects.toMatchObject({ code: ErrorCode.Unreachable });
    // Recovery.
    s = await up();
    await until('ready');
    expect(p.healthy).toBe(true);
    // Outage 2: its budget starts now, not at outage 1.
    await s.server.close();
    await waitFor(() => p.state === 'backoff');
    const during = track([p.call('who')]);
    for (let t = 0; t < 5; t++) {
      clock.advance(1000);
      await waitFor(() => p.state === 'backoff');
    }
    await sleep(1);
    expect(during.settled).toEqual([false]);
    s = await up();
    await until('ready');
    const { ok } = await within(during.all, 5000, 'the call made during outage 2');
    expect(ok.map(textOf)).toEqual(['up']);
  });
});

describe('connection loss', () => {
  it('a call made the moment the connection drops waits for the reconnect instead of failing', async () => {
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const held = deferred();
    let s = await local({ hang: () => held.promise, who: () => str('one') }, address);
    const p = pool({ address, connectBudgetMs: 60_000, backoff: { initialMs: 20, maxMs: 100 } });
    await p.call('who');
    let second: Promise<Reply> | undefined;
    const first = new Promise<RpcError>((resolve) =>
      p.send('hang', new Uint8Array(0), {}, (err) => {
        second = p.call('who'); // from inside the failure callback, as a caller retrying at once would
        resolve(err as RpcError);
      }),
    );
    await waitFor(() => s.counts.hang === 1);
    void s.server.close(); // cuts the held call after its close wait
    expect((await within(first, 5000)).code).toBe(ErrorCode.IO);
    expect(p.healthy).toBe(false);
    held.resolve();
    s = await local({ who: () => str('two') }, address);
    expect(textOf(await within(second!, 10_000, 'the call made on the loss'))).toBe('two');
  });
});

describe('a server that closes idle connections', () => {
  it('is no outage: the pool stays healthy, opens a fresh connection, and calls go on', async () => {
    const clock = new ManualClock();
    const server = new RpcServer({ dispatch: createRouter({ who: () => str('one') }), idleTimeoutMs: 1000, tickMs: 1000, clock });
    cleanup.push(() => server.close());
    const a = await server.listen(transport, '127.0.0.1:0');
    const address = `${a.host}:${portOf(a)}`;
    const states: [PoolState, boolean][] = [];
    const p: ConnPool = pool({ address, onStateChange: (s) => void states.push([s, p.healthy]) });
    expect(textOf(await p.call('who'))).toBe('one');
    clock.advance(1000); // the server's tick sees the call
    clock.advance(1000); // and then a connection idle for its idleTimeoutMs
    await waitFor(() => states.length >= 4, { what: 'the idle close and the reconnect' });
    expect(states).toEqual([['connecting', true], ['ready', true], ['connecting', true], ['ready', true]]);
    expect(textOf(await p.call('who'))).toBe('one');
    expect(server.connections).toBe(1);
  });
});

describe('closing', () => {
  it('lets calls in flight and those waiting for room finish, fails new ones with Closed, and leaves no handle behind', async () => {
    const before = handleCounts();
    const gate = deferred();
    const s = await local({ slow: () => gate.promise.then(() => str('done')) });
    // One connection: 2 calls on the wire, 3 waiting in the pool for room in its window.
    const p = new ConnPool({ transport, address: s.address, maxConnections: 1, stream: { window: 2 } });
    const calls = Array.from({ length: 5 }, () => p.call('slow'));
    await waitFor(() => p.inFlight === 2 && p.queued === 3);
    const closing = p.close();
    expect(p.state).toBe('closed');
    await expect(p.call('slow')).rejects.toMatchObject({ code: ErrorCode.Closed, retry: 'safe' });
    gate.resolve();
    const replies = await Promise.all(calls);
    expect(replies.map(textOf)).toEqual(['done', 'done', 'done', 'done', 'done']);
    await within(closing, 5000, 'close');
    expect(p.connections).toBe(0);
    await s.server.close();
    await waitFor(() => Object.keys(leakedHandles(before)).length === 0, { what: 'handles to close' });
  });

  it('fails calls still waiting for a connection with Closed (retry safe)', async () => {
    const p = new ConnPool({ transport, address: `127.0.0.1:${await freePort()}`, connectBudgetMs: 60_000 });
    const call = p.call('x').catch((e) => e);
    await p.close();
    const err = await call;
    expect(err.code).toBe(ErrorCode.Closed);
    expect(err.retry).toBe('safe');
  });
});

describe('ClientStream onClose hook', () => {
  it('runs once, before the calls of the lost connection are failed', async () => {
    const s = await local({ hang: () => new Promise(() => {}) });
    const order: string[] = [];
    const stream = await ClientStream.connect({ transport, address: s.address, onClose: () => order.push('onClose') });
    const call = stream.call('hang').catch(() => order.push('call failed'));
    await waitFor(() => s.counts.hang === 1);
    stream.destroy();
    await call;
    stream.destroy();
    expect(order).toEqual(['onClose', 'call failed']);
  });
});
