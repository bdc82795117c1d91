import { ErrorCode, parseAddress, type RpcError } from '@skein/core';
import { ManualClock, cleanups, deferred, startTcpRelay, tmpSocketPath, waitFor, within, type Deferred } from '@skein/test-utils';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConnPool, type ActionHandler, type ConnPoolOptions } from '../src/index.js';
import { localServer, str, textOf } from './pool-harness.js';
import { transport } from './harness.js';
import { requestFrameSpec } from '../src/wire/frame-specs.js';
import { DEFAULT_LIMITS } from '../src/wire/limits.js';

/*
 * A ConnPool whose every window is full: its calls wait in the pool, in order, for the first
 * connection with room (one freeing a slot, or one opened for them), not in one connection's own
 * queue behind its slowest call. Real TCP servers; what they saw start, on which connection, is
 * what the tests read, never how long anything took.
 */

const cleanup = cleanups();
const text = new TextDecoder();

/** A server whose `op` calls each wait until the test lets them go; it notes each start and its connection. */
async function holdingServer(listenOn?: string) {
  const starts: { id: string; conn: number }[] = [];
  const gates = new Map<string, Deferred<void>>();
  let open = false;
  const started = (req: Parameters<ActionHandler>[0]): string => {
    const id = text.decode(req.msg);
    starts.push({ id, conn: req.conn.id });
    return id;
  };
  const s = await localServer(
    {
      op: (req) => {
        const id = started(req);
        if (open) return str(id);
        const gate = deferred();
        gates.set(id, gate);
        return gate.promise.then(() => str(id));
      },
      // Answers with the ms its deadline leaves it: the time the call was sent with.
      budget: (req) => {
        started(req);
        return str(String(Math.round(req.remainingMs() ?? -1)));
      },
      // A stream's opening, answered at once.
      feed: (req) => {
        started(req);
        return str('fed');
      },
    },
    listenOn,
  );
  const releaseAll = (): void => {
    open = true;
    for (const g of gates.values()) g.resolve();
  };
  // Let go before the server closes (cleanups run in reverse), so its close need not wait.
  cleanup.push(() => s.server.close());
  cleanup.push(releaseAll);
  return {
    address: s.address,
    server: s.server,
    starts,
    ids: () => starts.map((st) => st.id),
    connOf: (id: string) => starts.find((st) => st.id === id)!.conn,
    release: (id: string) => gates.get(id)!.resolve(),
    releaseAll,
  };
}

function pool(address: string, opts: Partial<ConnPoolOptions> = {}): ConnPool {
  const p = new ConnPool({ transport, address, ...opts, stream: { window: 1, keepaliveMs: 0, ...opts.stream } });
  cleanup.push(() => p.destroy());
  return p;
}

const outcome = (p: Promise<unknown>): { value: unknown } => {
  const o: { value: unknown } = { value: undefined };
  p.then(
    (r) => (o.value = r),
    (e: unknown) => (o.value = e),
  );
  return o;
};

describe('ConnPool: calls that find every window full', () => {
  it('go to the connections opened for them while the call ahead is still held, in the order made', async () => {
    const s = await holdingServer();
    const p = pool(s.address, { maxConnections: 4 });
    const first = outcome(p.call('op', str('0')));
    await waitFor(() => s.starts.length === 1, { what: 'the held call to start' });
    const burst = ['1', '2', '3', '4', '5', '6'].map((id) => p.call('op', str(id)));
    // Three connections open for the burst; each takes the oldest call waiting.
    await waitFor(() => s.starts.length === 4, { what: 'three of the burst to start on the other connections' });
    expect(first.value).toBeUndefined();
    expect(s.ids()).toEqual(['0', '1', '2', '3']);
    expect(new Set(s.starts.map((st) => st.conn)).size).toBe(4);
    expect(p.connections).toBe(4);
    expect(p.queued).toBe(3);
    // A slot frees: the oldest call waiting takes it, on that connection.
    s.release('2');
    await waitFor(() => s.starts.length === 5, { what: 'call 4 to start' });
    expect(s.starts[4]).toEqual({ id: '4', conn: s.connOf('2') });
    s.release('0');
    await waitFor(() => s.starts.length === 6, { what: 'call 5 to start' });
    expect(s.starts[5]).toEqual({ id: '5', conn: s.connOf('0') });
    s.releaseAll();
    const replies = await within(Promise.all(burst), 10_000, 'the burst');
    expect(replies.map(textOf)).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(textOf(first.value as never)).toBe('0');
    expect(s.ids()).toEqual(['0', '1', '2', '3', '4', '5', '6']);
  });

  it('a call made as a slot frees (in the answer\'s own callback) goes after those waiting, not ahead', async () => {
    const s = await holdingServer();
    const p = pool(s.address, { maxConnections: 1 });
    const late = deferred<string>();
    p.send('op', str('0'), {}, () => {
      // Synchronously, from the answer that frees the slot: the slot is free, but '1' waits.
      p.send('op', str('late'), {}, (err, reply) => (err ? late.reject(err) : late.resolve(textOf(reply!))));
    });
    await waitFor(() => s.starts.length === 1, { what: 'the held call to start' });
    const waiting = p.call('op', str('1'));
    s.release('0');
    await waitFor(() => s.starts.length === 2, { what: 'the next call to start' });
    expect(s.ids()).toEqual(['0', '1']);
    s.releaseAll();
    expect(textOf(await within(waiting, 10_000, 'the waiting call'))).toBe('1');
    expect(await within(late.promise, 10_000, 'the late call')).toBe('late');
    expect(s.ids()).toEqual(['0', '1', 'late']);
  });

  it('an aborted waiting call leaves the queue unsent, and the next one takes the new connection', async () => {
    const s = await holdingServer();
    const p = pool(s.address, { maxConnections: 2 });
    void p.call('op', str('0')).catch(() => {});
    await waitFor(() => s.starts.length === 1, { what: 'the held call to start' });
    const ac = new AbortController();
    const aborted = p.call('op', str('x'), { signal: ac.signal }).catch((e: unknown) => e);
    ac.abort();
    const err = (await within(aborted, 10_000, 'the aborted call')) as RpcError;
    expect(err).toMatchObject({ code: ErrorCode.Cancelled });
    expect(p.queued).toBe(0);
    const next = p.call('op', str('1'));
    await waitFor(() => s.starts.length === 2, { what: 'the next call to start on the second connection' });
    expect(s.starts[1]!.id).toBe('1');
    expect(s.starts[1]!.conn).not.toBe(s.connOf('0'));
    s.releaseAll();
    expect(textOf(await within(next, 10_000, 'the next call'))).toBe('1');
    expect(s.ids()).toEqual(['0', '1']);
  });

  /** Two connections of window 1, each holding a call: `0` on the first, `1` on the second. */
  async function bothFull(clock: ManualClock) {
    const s = await holdingServer();
    const p = pool(s.address, { maxConnections: 2, clock, connectBudgetMs: 60_000, stream: { tickMs: 100 } });
    void p.call('op', str('0')).catch(() => {});
    void p.call('op', str('1')).catch(() => {});
    await waitFor(() => s.starts.length === 2, { what: 'both held calls to start' });
    expect(s.connOf('0')).not.toBe(s.connOf('1'));
    return { s, p };
  }

  it('a waiting call is sent with what is left of its timeout, on the connection that freed first', async () => {
    const clock = new ManualClock();
    const { s, p } = await bothFull(clock);
    const call = p.call('budget', str('b'), { timeoutMs: 1_000 });
    expect(p.queued).toBe(1);
    // 600 ms of its 1 s pass while it waits.
    clock.advance(600);
    s.release('1');
    const left = Number(textOf(await within(call, 10_000, 'the waiting call')));
    expect(s.starts[2]).toEqual({ id: 'b', conn: s.connOf('1') });
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(400);
  });

  it('a waiting call past its timeout fails Timeout, never sent', async () => {
    const clock = new ManualClock();
    const { s, p } = await bothFull(clock);
    const call = p.call('op', str('t'), { timeoutMs: 1_000 }).catch((e: unknown) => e);
    clock.advance(1_300);
    const err = (await within(call, 10_000, 'the waiting call')) as RpcError;
    expect(err).toMatchObject({ code: ErrorCode.Timeout, retry: 'safe', message: expect.stringMatching(/never sent/) });
    expect(p.queued).toBe(0);
    // Room now: nothing of it goes out.
    s.releaseAll();
    expect(textOf(await within(p.call('op', str('2')), 10_000, 'a later call'))).toBe('2');
    expect(s.ids()).toEqual(['0', '1', '2']);
  });

  it('counts against maxQueued: past it a call fails Overloaded, unsent', async () => {
    const s = await holdingServer();
    const p = pool(s.address, { maxConnections: 1, maxQueued: 1 });
    void p.call('op', str('0')).catch(() => {});
    await waitFor(() => s.starts.length === 1, { what: 'the held call to start' });
    const waiting = p.call('op', str('1'));
    const err = await p.call('op', str('2')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Overloaded, retry: 'safe', message: expect.stringContaining('more than 1 calls waiting') });
    s.releaseAll();
    expect(textOf(await within(waiting, 10_000, 'the waiting call'))).toBe('1');
    expect(s.ids()).toEqual(['0', '1']);
  });

  // The pool took them under its own bound (maxQueued): its close hands them to the connections'
  // queues, and a connection's smaller bound (stream.maxQueued) must not refuse them there.
  it('at a graceful close, are all sent, in order, however few stream.maxQueued lets wait on a connection', async () => {
    const s = await holdingServer();
    const p = pool(s.address, { maxConnections: 1, stream: { maxQueued: 1 } });
    const held = p.call('op', str('0'));
    await waitFor(() => s.starts.length === 1, { what: 'the held call to start' });
    const waiting = ['1', '2', '3'].map((id) => p.call('op', str(id)));
    expect(p.queued).toBe(3);
    const closing = p.close();
    s.releaseAll();
    const replies = await within(Promise.allSettled([held, ...waiting]), 10_000, 'the calls');
    expect(replies.map((r) => (r.status === 'fulfilled' ? textOf(r.value) : (r.reason as RpcError).codeName))).toEqual(['0', '1', '2', '3']);
    expect(s.ids()).toEqual(['0', '1', '2', '3']);
    await within(closing, 10_000, 'the close');
  });

  it('a stream, which takes no window slot, opens at once on a full connection', async () => {
    const s = await holdingServer();
    const p = pool(s.address, { maxConnections: 1 });
    void p.call('op', str('0')).catch(() => {});
    await waitFor(() => s.starts.length === 1, { what: 'the held call to start' });
    const stream = p.openStream('feed', str('s'));
    // On the connection at once: nothing waits in the pool.
    expect(p.queued).toBe(0);
    expect(textOf(await within(stream.result, 10_000, 'the stream'))).toBe('fed');
    expect(s.ids()).toEqual(['0', 's']);
  });

  it('so does one made before the first connection was up, behind calls that wait for room', async () => {
    const s = await holdingServer();
    const p = pool(s.address, { maxConnections: 1 });
    void p.call('op', str('0')).catch(() => {});
    const waiting = p.call('op', str('1'));
    const stream = p.openStream('feed', str('s'));
    expect(textOf(await within(stream.result, 10_000, 'the stream'))).toBe('fed');
    expect(s.ids()).toEqual(['0', 's']);
    s.releaseAll();
    expect(textOf(await within(waiting, 10_000, 'the waiting call'))).toBe('1');
  });
});

describe('ConnPool: a call that waited for room loses its only connection', () => {
  it('waits for the reconnect within the connect budget counted from the loss, not from when it began waiting', async () => {
    const clock = new ManualClock();
    const s = await holdingServer();
    const relay = await startTcpRelay(s.address);
    cleanup.push(() => relay.close());
    const p = pool(relay.address, { maxConnections: 1, clock, connectBudgetMs: 1_000, backoff: { initialMs: 10, maxMs: 10 }, stream: { tickMs: 100 } });
    const held = p.call('op', str('0'), { timeoutMs: 60_000 }).catch((e: unknown) => e);
    await waitFor(() => s.starts.length === 1, { what: 'the held call to start' });
    const waiting = outcome(p.call('op', str('1'), { timeoutMs: 60_000 }));
    expect(p.queued).toBe(1);
    // Longer than the connect budget passes while it waits for room on a working connection.
    clock.advance(2_000);
    relay.cut();
    expect(await within(held, 10_000, 'the held call')).toMatchObject({ code: ErrorCode.IO });
    s.releaseAll();
    // The backoff runs out; the pool connects again, and the call goes on the new connection.
    await waitFor(
      () => {
        clock.advance(20);
        return waiting.value !== undefined;
      },
      { what: 'the waiting call to settle' },
    );
    // Not Unreachable at the loss: the budget is for connect attempts failing, not for waiting for room.
    expect(waiting.value).not.toBeInstanceOf(Error);
    expect(textOf(waiting.value as never)).toBe('1');
  });

  it('counts the connect budget from the loss itself, not from the check before it', async () => {
    const clock = new ManualClock();
    const s = await holdingServer();
    const relay = await startTcpRelay(s.address);
    cleanup.push(() => relay.close());
    const p = pool(relay.address, { maxConnections: 1, clock, connectBudgetMs: 1_000, backoff: { initialMs: 10, maxMs: 10 }, stream: { tickMs: 100 } });
    void p.call('op', str('0'), { timeoutMs: 60_000 }).catch(() => {});
    await waitFor(() => s.starts.length === 1, { what: 'the held call to start' });
    void p.call('op', str('1'), { timeoutMs: 60_000 }).catch(() => {});
    clock.advance(2_000);
    // Half a tick past the last check that saw the connection up, it is lost, and the server stays out of reach.
    clock.advance(50);
    relay.refuse();
    relay.cut();
    await waitFor(() => p.state === 'backoff', { what: 'the pool to lose its connection' });
    // A second less the half tick after the loss: within the budget, the call still waits.
    clock.advance(950);
    expect(p.queued).toBe(1);
  });
});

describe('ConnPool: calls that waited for room when the server drains', () => {
  it('wait for its successor within the connect budget counted from the drain, not from when they began waiting', async () => {
    const clock = new ManualClock();
    const path = tmpSocketPath();
    const first = await holdingServer(`unix:${path}`);
    const p = pool(`unix:${path}`, { maxConnections: 1, clock, connectBudgetMs: 1_000, backoff: { initialMs: 10, maxMs: 10 }, stream: { tickMs: 100 } });
    const held = p.call('op', str('0'), { timeoutMs: 60_000 });
    await waitFor(() => first.starts.length === 1, { what: 'the held call to start' });
    const waiting = [outcome(p.call('op', str('1'), { timeoutMs: 60_000 })), outcome(p.call('op', str('2'), { timeoutMs: 60_000 }))];
    expect(p.queued).toBe(2);
    // Longer than the connect budget passes while they wait for room on a working connection.
    clock.advance(2_000);
    // A restart: the server drains (its listener gone), and answers the call it runs; the next
    // call, sent as its slot frees, is refused Closed, unrun, and the pool connects again.
    const closing = first.server.close();
    await waitFor(() => !existsSync(path), { what: "the first server's listener to close" });
    first.release('0');
    expect(textOf(await within(held, 10_000, 'the held call'))).toBe('0');
    await within(closing, 10_000, 'the first server to close');
    // Its successor listens where it did; the pool's backoff runs out and it connects.
    const next = await holdingServer(`unix:${path}`);
    next.releaseAll();
    await waitFor(
      () => {
        clock.advance(20);
        return waiting.every((w) => w.value !== undefined);
      },
      { what: 'the waiting calls to settle' },
    );
    // Not Unreachable at the drain: the budget is for connect attempts failing, not for waiting for room.
    for (const w of waiting) expect(w.value).not.toBeInstanceOf(Error);
    expect(waiting.map((w) => textOf(w.value as never))).toEqual(['1', '2']);
    expect(first.ids()).toEqual(['0']);
  });

  it('are not Unreachable at a check while the connection opened for the successor is not up yet', async () => {
    const clock = new ManualClock();
    const path = tmpSocketPath();
    const first = await holdingServer(`unix:${path}`);
    const p = pool(`unix:${path}`, { maxConnections: 1, clock, connectBudgetMs: 1_000, stream: { tickMs: 100 } });
    void p.call('op', str('0'), { timeoutMs: 60_000 });
    await waitFor(() => first.starts.length === 1, { what: 'the held call to start' });
    void p.call('op', str('1'), { timeoutMs: 60_000 }).catch(() => {});
    void p.call('op', str('2'), { timeoutMs: 60_000 }).catch(() => {});
    clock.advance(2_000);
    const closing = first.server.close();
    await waitFor(() => !existsSync(path), { what: "the first server's listener to close" });
    // A successor that takes the connection and has not answered its first ping yet: no outage, no connection up.
    let accepted = 0;
    const successor = await transport.listen(parseAddress(`unix:${path}`), requestFrameSpec(DEFAULT_LIMITS), (conn) => {
      accepted++;
      conn.bind({ frame: () => {}, drain: () => {}, close: () => {} });
    });
    cleanup.push(() => successor.close());
    first.release('0');
    await within(closing, 10_000, 'the first server to close');
    await waitFor(() => accepted === 1 && p.state === 'connecting', { what: 'the pool to connect to the successor' });
    expect(p.queued).toBe(2);
    // The pool's check: nothing failed connecting for the budget, so both still wait.
    clock.advance(100);
    expect(p.queued).toBe(2);
  });
});
