import { ErrorCode } from '@skein/core';
import { deferred, memoryLogger, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { DiscoveryFeed, FailoverPool, StaticDiscovery, discoveryEntry, followDiscovery, type DiscoveryEvent, type MembershipEvent } from '../src/index.js';
import { transport } from './harness.js';
import { localServer, str, textOf, type LocalServer } from './pool-harness.js';

const cleanup = cleanups();

/** Events as short strings: `join chat/a@127.0.0.1:1`, `replace chat/a@...`, `leave chat/a`. */
function recorder() {
  const log: string[] = [];
  const onChange = (e: DiscoveryEvent): void => {
    const { type, id, address, weight } = e.entry;
    log.push(e.kind === 'leave' ? `leave ${type}/${id}` : `${e.kind} ${type}/${id}@${address}${weight === 1 ? '' : ` w${weight}`}`);
  };
  return { log, onChange };
}

async function servers(names: string[], table: (name: string) => Parameters<typeof localServer>[0] = (n) => ({ who: () => str(n) })) {
  const out: Record<string, LocalServer> = {};
  for (const n of names) {
    out[n] = await localServer(table(n));
    cleanup.push(() => out[n]!.server.close());
  }
  return out;
}

function emptyPool(events: MembershipEvent[] = []): FailoverPool {
  const pool = new FailoverPool({ transport, servers: [], onMembershipChange: (e) => events.push(e) });
  cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
  return pool;
}

/** Servers a and b, a discovery naming a alone, and an empty pool following it with `lastLeaveGraceMs` (its membership events noted, its lines kept). */
async function followingA(lastLeaveGraceMs: number) {
  const s = await servers(['a', 'b']);
  const d = new StaticDiscovery([{ type: 'chat', id: 'x', address: s.a!.address }]);
  const events: MembershipEvent[] = [];
  const pool = emptyPool(events);
  const logger = memoryLogger();
  followDiscovery(pool, d, { type: 'chat', logger, lastLeaveGraceMs });
  return { s, d, events, pool, logger };
}

describe('StaticDiscovery', () => {
  it('gives a watch the list as joins, then each change once, and nothing for an unchanged list', async () => {
    const d = new StaticDiscovery([
      { type: 'chat', id: 'a', address: 'tcp://127.0.0.1:4001' },
      { type: 'chat', id: 'b', address: '127.0.0.1:4002', weight: 2 },
    ]);
    const r = recorder();
    const w = d.watch(r.onChange);
    await w.ready();
    expect(w.status().state).toBe('live');
    expect(r.log).toEqual(['join chat/a@127.0.0.1:4001', 'join chat/b@127.0.0.1:4002 w2']);
    r.log.length = 0;
    d.set([
      { type: 'chat', id: 'a', address: '127.0.0.1:4001' }, // same server, other spelling: no event
      { type: 'chat', id: 'b', address: '127.0.0.1:4003', weight: 2 },
      { type: 'area', id: 'c', address: '127.0.0.1:4004' },
    ]);
    d.set([
      { type: 'chat', id: 'a', address: '127.0.0.1:4001' },
      { type: 'chat', id: 'b', address: '127.0.0.1:4003', weight: 2 },
      { type: 'area', id: 'c', address: '127.0.0.1:4004' },
    ]);
    d.set([{ type: 'chat', id: 'b', address: '127.0.0.1:4003', weight: 2, meta: { zone: 'b' } }]);
    expect(r.log).toEqual([
      'replace chat/b@127.0.0.1:4003 w2',
      'join area/c@127.0.0.1:4004',
      'replace chat/b@127.0.0.1:4003 w2', // meta changed
      'leave chat/a',
      'leave area/c',
    ]);
    expect(w.entries()).toEqual([{ type: 'chat', id: 'b', address: '127.0.0.1:4003', weight: 2, meta: { zone: 'b' } }]);
    await w.close();
    d.set([]);
    expect(r.log).toHaveLength(5);
    expect(w.status().state).toBe('closed');
  });

  it('refuses a bad list whole, with InvalidArgument naming the entry, and changes nothing', () => {
    const d = new StaticDiscovery([{ type: 'chat', id: 'a', address: '127.0.0.1:4001' }]);
    const r = recorder();
    const w = d.watch(r.onChange);
    const good = { type: 'chat', id: 'b', address: '127.0.0.1:4002' };
    const bad: [unknown, RegExp][] = [
      [{ type: 'chat', id: 'c', address: 'nowhere' }, /not an address/],
      [{ type: 'chat', id: 'c', address: '127.0.0.1:1', weight: 0 }, /weight of entry 'c' of type 'chat'/],
      [{ type: 'chat', id: '', address: '127.0.0.1:1' }, /non-empty id/],
      [{ type: 'chat', id: 'c', address: '127.0.0.1:1', meta: { zone: 3 } }, /meta.zone of entry 'c'/],
      [good, /entry 'b' of type 'chat' is listed twice/],
    ];
    for (const [entry, message] of bad) {
      let err: unknown;
      try {
        d.set([good, entry as typeof good]);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(message) });
    }
    expect(r.log).toEqual(['join chat/a@127.0.0.1:4001']);
    expect(w.entries().map((e) => e.id)).toEqual(['a']);
  });

  it('when the list cannot be read, keeps what it had, says why in the status and one log line, and is live again on the next list', async () => {
    const logger = memoryLogger();
    let now = 1000;
    const d = new StaticDiscovery([{ type: 'chat', id: 'a', address: '127.0.0.1:4001' }], { logger, clock: { now: () => now, every: () => ({ stop() {} }) } });
    const r = recorder();
    const w = d.watch(r.onChange);
    now = 2000;
    d.stale('servers.json: no such file');
    now = 3000;
    d.stale('servers.json: still missing');
    expect(w.status()).toEqual({ state: 'stale', since: 2000, reason: 'servers.json: no such file' });
    expect(w.entries().map((e) => e.id)).toEqual(['a']);
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(['static discovery is stale: keeping the last known 1 server(s)']);
    now = 4000;
    d.set([{ type: 'chat', id: 'a', address: '127.0.0.1:4001' }]);
    expect(w.status()).toEqual({ state: 'live', since: 4000 });
    expect(r.log).toEqual(['join chat/a@127.0.0.1:4001']);
  });

  it('register adds an entry and close withdraws it, but not an entry registered again under its key since', async () => {
    const d = new StaticDiscovery();
    const r = recorder();
    d.watch(r.onChange);
    const first = await d.register({ type: 'chat', id: 'a', address: '127.0.0.1:4001' });
    const second = await d.register({ type: 'chat', id: 'a', address: '127.0.0.1:4002' });
    await first.close();
    expect(first.status().state).toBe('closed');
    expect(r.log).toEqual(['join chat/a@127.0.0.1:4001', 'replace chat/a@127.0.0.1:4002']);
    await second.close();
    expect(r.log.at(-1)).toBe('leave chat/a');
    await expect(d.register({ type: 'chat', id: 'a', address: 'nowhere' })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
  });
});

describe('DiscoveryFeed', () => {
  it('bounds ready(): Timeout or Cancelled naming the state, while the watch goes on and can still be ready', async () => {
    const feed = new DiscoveryFeed(() => {});
    const timedOut = feed.ready({ timeoutMs: 10 });
    await expect(timedOut).rejects.toMatchObject({ code: ErrorCode.Timeout, message: 'discovery not ready after 10 ms; the watch is stale: waiting for the first read' });
    feed.stale('etcd: connect ECONNREFUSED');
    const ac = new AbortController();
    const cancelled = feed.ready({ signal: ac.signal, timeoutMs: 60_000 });
    ac.abort();
    await expect(cancelled).rejects.toMatchObject({ code: ErrorCode.Cancelled, message: 'waiting for discovery cancelled; the watch is stale: etcd: connect ECONNREFUSED' });
    await expect(feed.ready({ signal: ac.signal })).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    await expect(feed.ready({ timeoutMs: -1 })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    const bounded = feed.ready({ timeoutMs: 60_000, signal: new AbortController().signal });
    feed.reset([]);
    await within(bounded, 5000, 'ready after the first read');
    expect(feed.status().state).toBe('live');
  });

  it("says Timeout, as calls and connects do, for a ready() whose signal's reason is a timeout (AbortSignal.timeout)", async () => {
    const feed = new DiscoveryFeed(() => {});
    const reason = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    const already = await feed.ready({ signal: AbortSignal.abort(reason) }).catch((e: unknown) => e);
    expect(already).toMatchObject({ code: ErrorCode.Timeout, retry: 'never', cause: reason, message: 'waiting for discovery timed out (its signal: TimeoutError: The operation was aborted due to timeout); the watch is stale: waiting for the first read' });
    const ac = new AbortController();
    const waiting = feed.ready({ signal: ac.signal, timeoutMs: 60_000 });
    ac.abort(reason);
    await expect(waiting).rejects.toMatchObject({ code: ErrorCode.Timeout, cause: reason });
  });

  it('sends joins and replaces before leaves on a full view, so a pool never drops to none in between', () => {
    const r = recorder();
    const feed = new DiscoveryFeed(r.onChange);
    const e = (id: string, port: number) => discoveryEntry({ type: 't', id, address: `127.0.0.1:${port}` });
    feed.reset([e('a', 1), e('b', 2)]);
    feed.reset([e('c', 1), e('b', 3)]);
    expect(r.log).toEqual(['join t/a@127.0.0.1:1', 'join t/b@127.0.0.1:2', 'join t/c@127.0.0.1:1', 'replace t/b@127.0.0.1:3', 'leave t/a']);
  });

  it('goes on after an onChange that throws, and logs it', () => {
    const logger = memoryLogger();
    const seen: string[] = [];
    const feed = new DiscoveryFeed(
      (ev) => {
        seen.push(ev.entry.id);
        if (ev.entry.id === 'a') throw new Error('listener bug');
      },
      { logger },
    );
    feed.reset([discoveryEntry({ type: 't', id: 'a', address: '127.0.0.1:1' }), discoveryEntry({ type: 't', id: 'b', address: '127.0.0.1:2' })]);
    expect(seen).toEqual(['a', 'b']);
    expect(feed.entries().map((x) => x.id)).toEqual(['a', 'b']);
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(['discovery onChange threw']);
  });
});

describe('followDiscovery', () => {
  it('routes to a server once it registers and, when it leaves, lets its call in flight finish while new calls go elsewhere', async () => {
    const release = deferred();
    const s = await servers(['a', 'b'], (n) => ({ who: () => str(n), slow: async () => (await release.promise, str(n)) }));
    const d = new StaticDiscovery();
    const pool = emptyPool();
    const w = followDiscovery(pool, d, { type: 'chat' });
    cleanup.push(() => w.close());
    await expect(pool.call('who')).rejects.toMatchObject({ code: ErrorCode.Unreachable });
    const a = await d.register({ type: 'chat', id: 'a', address: s.a!.address });
    await d.register({ type: 'area', id: 'b', address: s.b!.address }); // another type: not this pool's
    expect(pool.servers().map((v) => v.address)).toEqual([s.a!.address]);
    expect(textOf(await pool.call('who'))).toBe('a');
    const inFlight = pool.call('slow');
    while (!s.a!.counts.slow) await new Promise((r) => setTimeout(r, 5));
    await d.register({ type: 'chat', id: 'b', address: s.b!.address });
    await a.close(); // does not wait for the call in flight
    expect(pool.servers().map((v) => v.address)).toEqual([s.b!.address]);
    const after = await Promise.all(Array.from({ length: 4 }, () => pool.call('who')));
    expect(after.map(textOf)).toEqual(['b', 'b', 'b', 'b']);
    release.resolve();
    expect(textOf(await inFlight)).toBe('a');
    expect(s.a!.counts.who).toBe(1);
  });

  it('moves a replaced server to its new address without a gap, and keeps an address two ids share until both left', async () => {
    const s = await servers(['a', 'b']);
    const d = new StaticDiscovery([{ type: 'chat', id: 'x', address: s.a!.address }]);
    const events: MembershipEvent[] = [];
    const pool = emptyPool(events);
    // No grace for the last server: this test's last step is the shared address leaving.
    followDiscovery(pool, d, { type: 'chat', lastLeaveGraceMs: 0 });
    const name = (a: string) => (a === s.a!.address ? 'a' : 'b');
    d.set([{ type: 'chat', id: 'x', address: s.b!.address }]);
    expect(events.map((e) => `${e.type} ${name(e.address)}`)).toEqual(['add a', 'add b', 'remove a']);
    expect(textOf(await pool.call('who'))).toBe('b');
    events.length = 0;
    d.set([
      { type: 'chat', id: 'x', address: s.b!.address },
      { type: 'chat', id: 'y', address: s.b!.address },
    ]);
    d.set([{ type: 'chat', id: 'y', address: s.b!.address }]);
    expect(textOf(await pool.call('who'))).toBe('b');
    d.set([]);
    expect(events.map((e) => `${e.type} ${name(e.address)}`)).toEqual(['remove b']);
  });

  it('keeps the last server a grace after it left, until it or another joins', async () => {
    const { s, d, events, pool, logger } = await followingA(60_000);
    const name = (a: string) => (a === s.a!.address ? 'a' : 'b');
    const log = () => events.splice(0).map((e) => `${e.type} ${name(e.address)}`);
    expect(log()).toEqual(['add a']);

    // Every entry gone at once (a backend that stalled past its TTL), then back: no gap.
    d.set([]);
    expect(pool.servers().map((v) => name(v.address))).toEqual(['a']);
    expect(textOf(await pool.call('who'))).toBe('a');
    expect(logger.lines.map((l) => l.msg)).toEqual(['the last server left discovery: keeping it until another joins or the grace is over']);
    d.set([{ type: 'chat', id: 'x', address: s.a!.address }]);
    expect(log()).toEqual([]);

    // Another server joining ends the wait: it is in the pool before the held one goes.
    d.set([]);
    d.set([{ type: 'chat', id: 'y', address: s.b!.address }]);
    expect(log()).toEqual(['add b', 'remove a']);

    // A leave that leaves other servers in the pool is applied at once.
    d.set([{ type: 'chat', id: 'y', address: s.b!.address }, { type: 'chat', id: 'x', address: s.a!.address }]);
    d.set([{ type: 'chat', id: 'x', address: s.a!.address }]);
    expect(log()).toEqual(['add a', 'remove b']);
  });

  it('keeps the last server for the grace when the application removed by hand another server discovery still names', async () => {
    const s = await servers(['a', 'b']);
    const d = new StaticDiscovery([
      { type: 'chat', id: 'x', address: s.a!.address },
      { type: 'chat', id: 'y', address: s.b!.address },
    ]);
    const pool = emptyPool();
    followDiscovery(pool, d, { type: 'chat', lastLeaveGraceMs: 60_000 });
    await pool.remove(s.b!.address);
    // a leaving discovery would empty the pool: b, still named there, is not in it.
    d.set([{ type: 'chat', id: 'y', address: s.b!.address }]);
    expect(pool.servers().map((v) => v.address)).toEqual([s.a!.address]);
    expect(textOf(await pool.call('who'))).toBe('a');
  });

  it('removes the last server once the grace is over when nothing joins', async () => {
    const s = await servers(['a']);
    const d = new StaticDiscovery([{ type: 'chat', id: 'x', address: s.a!.address }]);
    const events: MembershipEvent[] = [];
    const pool = emptyPool(events);
    followDiscovery(pool, d, { type: 'chat', lastLeaveGraceMs: 20 });
    d.set([]);
    expect(pool.servers()).toHaveLength(1);
    await waitFor(() => pool.servers().length === 0, { what: 'the held server to leave' });
    expect(events.map((e) => e.type)).toEqual(['add', 'remove']);
  });

  /**
   * The only server, called once (a connection up), leaves discovery while it still answers (cut
   * off from the backend, say): resolves once the grace is over and it was kept, or removed.
   */
  async function heldPastGrace() {
    const { s, d, events, pool, logger } = await followingA(20);
    expect(textOf(await pool.call('who'))).toBe('a');
    d.set([]);
    const outlasted = () => logger.lines.some((l) => l.msg?.startsWith('the grace is over but the last server still answers'));
    await waitFor(() => outlasted() || pool.size === 0, { what: 'the grace to be over' });
    const name = (a: string) => (a === s.a!.address ? 'a' : 'b');
    return { s, d, pool, log: () => events.splice(0).map((e) => `${e.type} ${name(e.address)}`) };
  }

  it('keeps past the grace a last server that left discovery but still answers, and its calls succeed', async () => {
    const { pool, log } = await heldPastGrace();
    expect(pool.servers().map((v) => v.address)).toHaveLength(1);
    const after = await Promise.all(Array.from({ length: 4 }, () => pool.call('who')));
    expect(after.map(textOf)).toEqual(['a', 'a', 'a', 'a']);
    expect(log()).toEqual(['add a']);
  });

  it('removes the last server kept past the grace once it stops answering (its server closed)', async () => {
    const { s, pool, log } = await heldPastGrace();
    expect(pool.size).toBe(1);
    await s.a!.server.close();
    await waitFor(() => pool.size === 0, { what: 'the closed server to leave the pool' });
    expect(log()).toEqual(['add a', 'remove a']);
    await expect(pool.call('who')).rejects.toMatchObject({ code: ErrorCode.Unreachable });
  });

  it('replaces the last server kept past the grace when another joins', async () => {
    const { s, d, pool, log } = await heldPastGrace();
    expect(pool.size).toBe(1);
    d.set([{ type: 'chat', id: 'y', address: s.b!.address }]);
    expect(log()).toEqual(['add a', 'add b', 'remove a']);
    expect(textOf(await pool.call('who'))).toBe('b');
  });

  it('removes the last server kept past the grace once the pool has another, added by hand (no join, no call: the add is a change watchStates reports)', async () => {
    const { s, pool, log } = await heldPastGrace();
    expect(pool.size).toBe(1);
    pool.add(s.b!.address);
    // No join tells the follower of a server added by hand, and no call makes b connect: the pool's
    // watchStates reports the add itself.
    await waitFor(() => pool.size === 1 || undefined, { what: 'a to leave the pool' });
    expect(log()).toEqual(['add a', 'add b', 'remove a']);
    expect(textOf(await pool.call('who'))).toBe('b');
  });

  it('removes at the grace end a held last server that still answers when the pool has another, added by hand during the grace', async () => {
    const { s, d, events, pool, logger } = await followingA(20);
    expect(textOf(await pool.call('who'))).toBe('a'); // a connection up: it answers
    d.set([]);
    pool.add(s.b!.address); // in the grace's turn: the grace's end finds b there
    await waitFor(() => pool.size === 1 || undefined, { what: 'a to leave the pool' });
    expect(pool.servers().map((v) => v.address)).toEqual([s.b!.address]);
    expect(events.map((e) => `${e.type} ${e.address === s.a!.address ? 'a' : 'b'}`)).toEqual(['add a', 'add b', 'remove a']);
    expect(logger.lines.filter((l) => l.msg?.startsWith('the grace is over but the last server still answers'))).toEqual([]);
  });

  it('removes nothing from a pool closed while its last server is kept past the grace', async () => {
    const { s, pool, log } = await heldPastGrace();
    // Told after the follower's own watcher (watchers are told in the order they came): once this
    // one has heard of a change since the close (a's pool closed), the follower has too.
    let closing = false;
    let heard = false;
    pool.watchStates(() => void (heard ||= closing));
    closing = true;
    await pool.close();
    await waitFor(() => heard, { what: "a's pool to close" });
    expect(pool.servers().map((v) => v.address)).toEqual([s.a!.address]);
    expect(log()).toEqual(['add a']);
  });

  it('removes nothing from a pool closed during the grace', async () => {
    const s = await servers(['a']);
    const d = new StaticDiscovery([{ type: 'chat', id: 'x', address: s.a!.address }]);
    const events: MembershipEvent[] = [];
    const pool = emptyPool(events);
    followDiscovery(pool, d, { type: 'chat', lastLeaveGraceMs: 20 });
    expect(textOf(await pool.call('who'))).toBe('a');
    d.set([]);
    await pool.close();
    // A later timer than the grace's: Node runs timers in the order they fall due.
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(pool.servers().map((v) => v.address)).toEqual([s.a!.address]);
    expect(events.map((e) => e.type)).toEqual(['add']);
  });

  it('removes at the grace end a last server that no longer answers', async () => {
    const s = await servers(['a']);
    const d = new StaticDiscovery([{ type: 'chat', id: 'x', address: s.a!.address }]);
    const pool = emptyPool();
    followDiscovery(pool, d, { type: 'chat', lastLeaveGraceMs: 20 });
    expect(textOf(await pool.call('who'))).toBe('a');
    await s.a!.server.close();
    await waitFor(() => pool.stats()[0]?.state === 'backoff', { what: 'the pool to back off' });
    d.set([]);
    expect(pool.size).toBe(1);
    await waitFor(() => pool.size === 0, { what: 'the held server to leave' });
  });

  it('keeps the held server when the watch is closed during the grace: closing stops following', async () => {
    const s = await servers(['a']);
    const d = new StaticDiscovery([{ type: 'chat', id: 'x', address: s.a!.address }]);
    const pool = emptyPool();
    const watch = followDiscovery(pool, d, { type: 'chat', lastLeaveGraceMs: 20 });
    d.set([]);
    await watch.close();
    // A later timer than the grace's: Node runs timers in the order they fall due.
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(pool.servers().map((x) => x.address)).toEqual([s.a!.address]);
  });

  it('refuses a lastLeaveGraceMs no timer can hold', () => {
    const pool = emptyPool();
    for (const bad of [-1, Number.NaN, 2 ** 31]) {
      expect(() => followDiscovery(pool, new StaticDiscovery(), { type: 'chat', lastLeaveGraceMs: bad })).toThrow(expect.objectContaining({ code: ErrorCode.InvalidArgument }));
    }
  });

  it('stops following when the pool is closed', async () => {
    const d = new StaticDiscovery();
    const pool = new FailoverPool({ transport, servers: [] });
    const w = followDiscovery(pool, d, { type: 'chat' });
    await pool.close();
    await d.register({ type: 'chat', id: 'a', address: '127.0.0.1:4001' });
    expect(w.status().state).toBe('closed');
    expect(pool.servers()).toEqual([]);
  });
});
