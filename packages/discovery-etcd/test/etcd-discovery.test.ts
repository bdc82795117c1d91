import { ErrorCode } from '@skein/core';
import { memoryLogger, startProcess, waitFor, within, type Proc } from '@skein/test-utils';
import { FailoverPool, followDiscovery, type DiscoveryEvent, type Watch } from '@skein/stream';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { EtcdDiscovery, EtcdRegistrar } from '../src/index.js';
import { etcdClient, etcdForFile, namedServer, textOf, transport, type NamedServer } from './harness.js';

const file = etcdForFile();
const { cleanup, client } = file;

let prefixes = 0;
/** A fresh prefix per test, so that tests sharing one etcd see only their own entries. */
const freshPrefix = () => `test${++prefixes}/servers`;

async function server(name: string): Promise<NamedServer> {
  const s = await namedServer(name);
  cleanup.push(() => s.server.close());
  return s;
}

/** A pool of one type fed by etcd, with what it was told and what it logged. */
function follower(prefix: string, type = 'chat') {
  const logger = memoryLogger();
  const events: string[] = [];
  const pool = new FailoverPool({ transport, servers: [], onMembershipChange: (e) => void events.push(`${e.type} ${e.address}`) });
  const watch = followDiscovery(pool, new EtcdDiscovery({ client: client(), prefix, logger, backoff: { initialMs: 50, maxMs: 500 } }), { type });
  cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
  cleanup.push(() => watch.close());
  const addresses = () => pool.servers().map((s) => s.address);
  return { pool, watch, events, logger, addresses };
}

/** Every event a raw watch sees, as `join id`, `replace id w<weight>`, `leave id`. */
function recorded(watch: (onChange: (e: DiscoveryEvent) => void) => Watch) {
  const log: string[] = [];
  const w = watch((e) => void log.push(e.kind === 'replace' ? `replace ${e.entry.id} w${e.entry.weight}` : `${e.kind} ${e.entry.id}`));
  cleanup.push(() => w.close());
  return { log, watch: w };
}

describe('etcd discovery on one etcd', () => {
  it('routes calls to a server once it registers, with its weight and meta as written', async () => {
    const prefix = freshPrefix();
    const f = follower(prefix);
    await f.watch.ready();
    const a = await server('a');
    const reg = await new EtcdRegistrar({ client: client(), prefix }).register({ type: 'chat', id: 'a', address: a.address, weight: 3, meta: { zone: 'z1', version: '1.2.0' } });
    cleanup.push(() => reg.close());
    expect(reg.status().state).toBe('live');
    await waitFor(() => f.addresses().includes(a.address), { what: 'a in the pool' });
    expect(textOf(await f.pool.call('who'))).toBe('a');
    expect(f.pool.servers()).toMatchObject([{ address: a.address, weight: 3 }]);
    expect(f.watch.entries()).toEqual([{ type: 'chat', id: 'a', address: a.address, weight: 3, meta: { zone: 'z1', version: '1.2.0' } }]);
    expect(f.watch.status().state).toBe('live');
  });

  it('reads the entries already there first, and ignores other types and bad values with a log line', async () => {
    const prefix = freshPrefix();
    const c = client();
    const [a, b] = [await server('a'), await server('b')];
    const registrar = new EtcdRegistrar({ client: c, prefix });
    cleanup.push(...(await Promise.all([registrar.register({ type: 'chat', id: 'a', address: a.address }), registrar.register({ type: 'area', id: 'b', address: b.address })])).map((r) => () => r.close()));
    await c.put(`${prefix}/chat/broken`).value('{not json');
    await c.put(`${prefix}/chat/nowhere`).value(JSON.stringify({ address: 'no address' }));
    const f = follower(prefix);
    await f.watch.ready();
    expect(f.addresses()).toEqual([a.address]);
    expect(f.watch.entries().map((e) => `${e.type}/${e.id}`).sort()).toEqual(['area/b', 'chat/a']);
    expect(f.logger.lines.filter((l) => l.msg === 'ignoring a bad discovery entry').map((l) => l.obj.key).sort()).toEqual([`${prefix}/chat/broken`, `${prefix}/chat/nowhere`]);
  });

  it('on a graceful close, removes the server from clients before the server closes, and no call fails', async () => {
    const prefix = freshPrefix();
    const f = follower(prefix);
    const [a, b] = [await server('a'), await server('b')];
    const registrar = new EtcdRegistrar({ client: client(), prefix });
    const regA = await registrar.register({ type: 'chat', id: 'a', address: a.address });
    const regB = await registrar.register({ type: 'chat', id: 'b', address: b.address });
    cleanup.push(() => regB.close());
    await waitFor(() => f.addresses().length === 2, { what: 'both servers in the pool' });
    const order: string[] = [];
    let failed = 0;
    let stop = false;
    const flood = (async () => {
      while (!stop) {
        await Promise.all(Array.from({ length: 8 }, () => f.pool.call('who').catch(() => void failed++)));
        // A round whose calls all fail at once settles in microtasks: yield so timers still run.
        await new Promise((r) => setImmediate(r));
      }
    })();
    cleanup.push(() => ((stop = true), flood));
    await regA.close();
    order.push('revoked');
    // The key is gone from etcd as soon as close() resolves; the server still serves.
    expect(await client().getAll().prefix(`${prefix}/`).keys()).toEqual([`${prefix}/chat/b`]);
    await waitFor(() => !f.addresses().includes(a.address), { what: 'a out of the pool' });
    order.push('client dropped a');
    await a.server.close();
    order.push('server closed');
    stop = true;
    await flood;
    expect(order).toEqual(['revoked', 'client dropped a', 'server closed']);
    expect(f.events).toEqual([`add ${a.address}`, `add ${b.address}`, `remove ${a.address}`]);
    expect(failed).toBe(0);
    expect(regA.status().state).toBe('closed');
  });

  it('drops a server whose process was killed with SIGKILL once its lease expires', async () => {
    const prefix = freshPrefix();
    const f = follower(prefix);
    const fixture = fileURLToPath(new URL('./fixtures/registered-server.mjs', import.meta.url));
    const procs: Proc[] = [];
    const start = async (id: string) => {
      const p = startProcess(process.execPath, [fixture, file.etcd.endpoints[0]!, prefix, 'chat', id, '2']);
      procs.push(p);
      cleanup.push(async () => {
        p.kill('SIGKILL');
        await p.exited;
      });
      return (await p.waitForLine(/registered (\S+)/))[1]!;
    };
    const [doomed, survivor] = [await start('doomed'), await start('survivor')];
    await waitFor(() => f.addresses().length === 2, { what: 'both child servers in the pool' });
    const pid = f.watch.entries().find((e) => e.id === 'doomed')!.meta.pid;
    expect(pid).toBe(String(procs[0]!.pid));
    procs[0]!.kill('SIGKILL');
    expect(await procs[0]!.exited).toBe('SIGKILL');
    await waitFor(() => !f.addresses().includes(doomed), { timeoutMs: 20_000, what: 'the killed server to leave (lease expiry)' });
    expect(f.addresses()).toEqual([survivor]);
    const replies = await Promise.all(Array.from({ length: 6 }, () => f.pool.call('who')));
    expect(replies.map(textOf)).toEqual(Array(6).fill('survivor'));
  });

  it('while etcd is down, keeps the last known servers and says so; when it is back, resumes and applies what changed', async () => {
    const prefix = freshPrefix();
    const f = follower(prefix);
    const raw = recorded((cb) => new EtcdDiscovery({ client: client(), prefix, backoff: { initialMs: 50, maxMs: 500 } }).watch(cb));
    const [a, b] = [await server('a'), await server('b')];
    const registrar = new EtcdRegistrar({ client: client(), prefix, ttlSeconds: 30 });
    const regA = await registrar.register({ type: 'chat', id: 'a', address: a.address });
    const regB = await registrar.register({ type: 'chat', id: 'b', address: b.address });
    cleanup.push(() => regA.close(), () => regB.close());
    await waitFor(() => f.addresses().length === 2 && raw.log.length === 2, { what: 'both servers known' });

    await file.etcd.members[0]!.stop('SIGKILL');
    await waitFor(() => f.watch.status().state === 'stale', { what: 'status stale' });
    await waitFor(() => regA.status().state === 'stale', { what: 'the registration to notice' });
    const status = f.watch.status();
    expect(status).toMatchObject({ state: 'stale', reason: expect.stringContaining('broke') });
    const warn = f.logger.lines.filter((l) => l.level === 'warn');
    expect(warn.map((l) => l.msg)).toEqual(['etcd discovery is stale: keeping the last known 2 server(s)']);
    expect(f.addresses().sort()).toEqual([a.address, b.address].sort());
    const replies = await Promise.all(Array.from({ length: 4 }, () => f.pool.call('who')));
    expect(replies.map(textOf).sort()).toEqual(['a', 'a', 'b', 'b']);

    await file.etcd.members[0]!.start();
    await waitFor(() => f.watch.status().state === 'live', { timeoutMs: 20_000, what: 'status live again' });
    await waitFor(() => regA.status().state === 'live', { timeoutMs: 20_000, what: 'the registration kept alive again' });
    await regB.close();
    // Two watches of their own: wait for both to have seen it.
    await waitFor(() => f.addresses().length === 1 && raw.log.length === 3, { what: 'b gone after the restart' });
    expect(f.addresses()).toEqual([a.address]);
    expect(raw.log).toEqual(['join a', 'join b', 'leave b']);
    expect(f.logger.lines.filter((l) => l.level === 'info').map((l) => l.msg)).toEqual(['etcd discovery is live again']);
  });

  it('when etcd cannot be reached from the start, says so and is not ready', async () => {
    const logger = memoryLogger();
    const dead = etcdClient('http://127.0.0.1:1');
    cleanup.push(() => dead.close());
    const watch = new EtcdDiscovery({ client: dead, logger, backoff: { initialMs: 50, maxMs: 200 } }).watch(() => {
      throw new Error('no event expected');
    });
    cleanup.push(() => watch.close());
    let ready = false;
    void watch.ready().then(() => (ready = true));
    await waitFor(() => logger.lines.length > 0, { what: 'a log line' });
    expect(watch.status()).toMatchObject({ state: 'stale', reason: expect.stringContaining('reading skein/servers/ failed') });
    expect(logger.lines.map((l) => l.msg)).toEqual(['etcd discovery is stale: keeping the last known 0 server(s)']);
    expect(ready).toBe(false);
    await watch.close();
    await watch.ready();
    expect(watch.status().state).toBe('closed');
  });

  it('rejects a registration it cannot write with Unreachable, and bad entries with InvalidArgument', async () => {
    const prefix = freshPrefix();
    const registrar = new EtcdRegistrar({ client: client(), prefix });
    await expect(registrar.register({ type: 'a/b', id: 'x', address: '127.0.0.1:1' })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    await expect(registrar.register({ type: 'chat', id: 'x', address: 'nowhere' })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
    const dead = etcdClient('http://127.0.0.1:1');
    cleanup.push(() => dead.close());
    await expect(new EtcdRegistrar({ client: dead, prefix }).register({ type: 'chat', id: 'x', address: '127.0.0.1:1' })).rejects.toMatchObject({
      code: ErrorCode.Unreachable,
      message: expect.stringContaining(`registering ${prefix}/chat/x in etcd failed`),
    });
  });

  it('checks backoff when built, and refuses its old name retry (a plain-JS caller would be ignored otherwise)', () => {
    const c = client();
    const invalid = (message: string | RegExp) => expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(message) });
    expect(() => new EtcdDiscovery({ client: c, retry: { initialMs: 50 } } as never)).toThrow(invalid(/^EtcdDiscovery option retry is now backoff$/));
    expect(() => new EtcdRegistrar({ client: c, retry: { initialMs: 50 } } as never)).toThrow(invalid(/^EtcdRegistrar option retry is now backoff$/));
    expect(() => new EtcdDiscovery({ client: c, backoff: { initialMs: 0 } })).toThrow(invalid(/^backoff\.initialMs must be a positive number, got 0$/));
    expect(() => new EtcdRegistrar({ client: c, backoff: { initialMs: 500, maxMs: 100 } })).toThrow(invalid(/^backoff\.maxMs must be at least initialMs/));
    expect(() => new EtcdDiscovery({ client: c, backoff: { initialMs: 50, maxMs: 500 } })).not.toThrow();
  });

  it('takes its key back from its own lost lease when etcd kept it (etcd down longer than twice the TTL, then back): no leave', async () => {
    const prefix = freshPrefix();
    const raw = recorded((cb) => new EtcdDiscovery({ client: client(), prefix, backoff: { initialMs: 50, maxMs: 500 } }).watch(cb));
    const logger = memoryLogger();
    const a = await server('a');
    const reg = await new EtcdRegistrar({ client: client(), prefix, ttlSeconds: 5, logger, backoff: { initialMs: 50, maxMs: 200 } }).register({ type: 'chat', id: 'a', address: a.address });
    cleanup.push(() => reg.close());
    await waitFor(() => raw.log.length === 1, { what: 'a seen' });

    await file.etcd.members[0]!.stop('SIGKILL');
    // etcd3 gives the lease up after twice the TTL without a keepalive; etcd, restarted, renews
    // every lease it has, so the key is still there under the lease given up.
    await waitFor(() => logger.lines.some((l) => l.msg === 'registration lost its lease: writing it again'), { timeoutMs: 20_000, what: 'the lease given up' });
    await file.etcd.members[0]!.start();
    await waitFor(() => logger.lines.some((l) => l.msg === 'registered again'), { timeoutMs: 20_000, what: 'written again' });
    const marker = await new EtcdRegistrar({ client: client(), prefix }).register({ type: 'marker', id: 'm', address: '127.0.0.1:1' });
    cleanup.push(() => marker.close());
    await waitFor(() => raw.log.includes('join m'), { timeoutMs: 20_000, what: 'the marker seen' });
    expect(raw.log).toEqual(['join a', 'join m']);
    expect(reg.status().state).toBe('live');
  }, 90_000);
});

