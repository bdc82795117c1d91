import { createCluster, createServiceDispatch, implement, method, service, type Member } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { nodeRuntime } from '@skein/runtime-node';
import { FailoverPool, RpcServer, createRouter, followDiscovery, type ActionHandler, type Watch } from '@skein/stream';
import { EtcdDiscovery, encodeValue, type EtcdRegistrar } from '../src/index.js';
import { portOf, processStopped, sleep, startEtcd, waitFor, within, type EtcdCluster, type StartEtcdOptions, cleanups, testCleanups } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { Etcd3 } from 'etcd3';
import { ConnectionPool } from 'etcd3/lib/connection-pool.js';
import { afterAll, beforeAll, type TestContext } from 'vitest';

export const transport = tcpTransport(nodeRuntime);

const utf8 = new TextEncoder();
const text = new TextDecoder();
export const str = (s: string): Uint8Array => utf8.encode(s);
export const textOf = (r: { msg: Uint8Array }): string => text.decode(r.msg);
/** `<prefix>/chat/` then raw bytes: a key that is not UTF-8 when `tail` is not. */
export const rawKey = (prefix: string, ...tail: number[]): Buffer => Buffer.concat([Buffer.from(`${prefix}/chat/`), Buffer.from(tail)]);

/** An etcd3 client on these endpoints; quick to notice a member that is gone. */
export function etcdClient(endpoints: string | string[]): Etcd3 {
  return new Etcd3({ hosts: endpoints, dialTimeout: 2000 });
}

/**
 * One etcd for a test file: started before its tests, stopped after them. `cleanup` runs after
 * each test, last in first out; `client()` gives an etcd3 client closed after the test.
 */
export function etcdForFile(opts: StartEtcdOptions = {}) {
  let etcd: EtcdCluster | undefined;
  const cleanup = cleanups();
  beforeAll(async () => {
    etcd = await startEtcd(opts);
  }, 60_000);
  afterAll(() => etcd?.close());
  return {
    get etcd(): EtcdCluster {
      return etcd!;
    },
    cleanup,
    client(endpoints: string | string[] = etcd!.endpoints): Etcd3 {
      const c = etcdClient(endpoints);
      cleanup.push(() => c.close());
      return c;
    },
    /**
     * As `cleanup` and `client`, for a test that runs at once with others (`describe.concurrent`,
     * each on a prefix of its own): closed when that test ends, by its own context. The file's
     * `cleanup` runs after each test and would close what the others still use.
     */
    forTest(t: Pick<TestContext, 'onTestFinished'>) {
      const own = testCleanups(t);
      return {
        cleanup: own,
        client(endpoints: string | string[] = etcd!.endpoints): Etcd3 {
          const c = etcdClient(endpoints);
          own.push(() => c.close());
          return c;
        },
      };
    },
  };
}

/**
 * A file's 3-member etcd under etcd3's deterministic order (its own switch for tests): every call
 * and stream goes first to the last host a client is given, so a test puts it on the member it
 * will stall for sure, not one time in three.
 */
export function threeMembersInOrder() {
  const file = etcdForFile({ members: 3 });
  beforeAll(() => {
    ConnectionPool.deterministicOrder = true;
  });
  afterAll(() => {
    ConnectionPool.deterministicOrder = false;
  });
  return file;
}

export interface NamedServer {
  name: string;
  server: RpcServer;
  address: string;
}

/** An in-process server whose `who` answers its name, plus any other actions. */
export async function namedServer(name: string, more: Record<string, ActionHandler> = {}): Promise<NamedServer> {
  const server = new RpcServer({ dispatch: createRouter({ who: () => str(name), ...more }), closeWaitMs: 2000 });
  const a = await server.listen(transport, '127.0.0.1:0');
  return { name, server, address: `127.0.0.1:${portOf(a)}` };
}

/**
 * Starts a named server per name and registers each under `type`, its id its name; both are
 * closed by `cleanup` (the file's). The servers, in order.
 */
export async function registeredServers(registrar: EtcdRegistrar, type: string, names: readonly string[], cleanup: (() => unknown)[]): Promise<NamedServer[]> {
  const started: NamedServer[] = [];
  for (const name of names) {
    const s = await namedServer(name);
    cleanup.push(() => s.server.close());
    const reg = await registrar.register({ type, id: name, address: s.address });
    cleanup.push(() => reg.close());
    started.push(s);
  }
  return started;
}

/** The service of the cluster tests' servers: `whoami` answers the server's name. */
export const Chat = service('Chat', { whoami: method<void, string>() });

/** A Chat server (msgpack, as `createCluster` calls it) that answers `whoami` with `name`, closed by `cleanup`; its address. */
export async function chatServer(name: string, cleanup: (() => unknown)[]): Promise<string> {
  return (await chatServerOf(name, cleanup)).address;
}

/** `chatServer`, with its RpcServer: for a test that closes it. */
export async function chatServerOf(name: string, cleanup: (() => unknown)[]): Promise<{ server: RpcServer; address: string }> {
  const server = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, services: [implement(Chat, { whoami: () => name })] }) });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  return { server, address: `127.0.0.1:${portOf(a)}` };
}

/** Callers calling `call` in a loop until `stop()`: how many calls succeeded, and the failures' messages. */
export interface CallFlood {
  readonly calls: number;
  readonly failed: string[];
  stop(): Promise<void>;
}

/** `callers` loops of `call`, each failure recorded (and followed by a short pause: one failing at once must not starve the event loop). */
export function callFlood(call: () => Promise<unknown>, callers = 8): CallFlood {
  const failed: string[] = [];
  let calls = 0;
  let flooding = true;
  const loop = async (): Promise<void> => {
    while (flooding) {
      try {
        await call();
        calls++;
      } catch (err) {
        failed.push((err as Error).message);
        await sleep(10);
      }
    }
  };
  const running = Promise.all(Array.from({ length: callers }, loop));
  return {
    get calls() {
      return calls;
    },
    failed,
    stop: () => {
      flooding = false;
      return within(running.then(() => undefined), 10_000, 'the flood');
    },
  };
}

/**
 * Stops the etcd member (SIGSTOP) for `ms`, longer than the lease TTL, then resumes it: etcd then
 * expires every lease at once. `cleanup` resumes it should the test fail meanwhile.
 */
export async function stallEtcd(member: EtcdCluster['members'][number], ms: number, cleanup: (() => unknown)[]): Promise<void> {
  await stopMember(member, cleanup);
  await sleep(ms);
  member.proc!.kill('SIGCONT');
}

/** SIGSTOPs `member` (its kernel still accepts, nothing answers) until `cleanup` runs, and waits until it is stopped. */
export async function stopMember(member: EtcdCluster['members'][number], cleanup: (() => unknown)[]): Promise<void> {
  member.proc!.kill('SIGSTOP');
  cleanup.push(() => member.proc?.kill('SIGCONT'));
  await waitFor(() => processStopped(member.proc!.pid), { what: 'etcd stopped' });
}

/**
 * A `createCluster` cluster of one server type, `chat` (the Chat service), closed by `cleanup`.
 * `events` lists each membership change (`add chat/<id>`, `remove chat/<id>`); `changed` runs after each.
 */
export function chatCluster(cleanup: (() => unknown)[], opts: { servers?: Member[]; timeoutMs?: number; changed?: () => void } = {}) {
  const events: string[] = [];
  const rpc = createCluster({
    codec: msgpackCodec,
    transport,
    types: { chat: { services: [Chat], servers: opts.servers } },
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    onMembershipChange: (event, type, m) => {
      events.push(`${event} ${type}/${m.id}`);
      opts.changed?.();
    },
  });
  cleanup.push(() => within(rpc.$cluster.close(), 10_000, 'cluster close'));
  return { rpc, events };
}

/** What an etcd member holds for its clients now, from its /metrics and its lease list. */
export interface EtcdHeld {
  /** Lease keepalive streams open. */
  keepalives: number;
  /** Watch streams open. */
  watchStreams: number;
  /** Watchers on them. */
  watchers: number;
  /** Leases granted and not revoked or expired. */
  leases: number;
}

/** Reads what `member` holds for its clients (see EtcdHeld), through `client` for the leases. */
export async function etcdHeld(member: EtcdCluster['members'][number], client: Etcd3): Promise<EtcdHeld> {
  const sum = await etcdMetrics(member);
  const open = (method: string): number => sum('grpc_server_started_total', method) - sum('grpc_server_handled_total', method);
  return {
    keepalives: open('LeaseKeepAlive'),
    watchStreams: open('Watch'),
    watchers: sum('etcd_debugging_mvcc_watcher_total'),
    leases: (await client.leaseClient.leaseLeases()).leases.length,
  };
}

/** Writes an entry per id under `<prefix>/<type>/` (no lease), in transactions of 128 puts (etcd's default most): thousands in a second. */
export async function putEntries(client: Etcd3, prefix: string, type: string, ids: readonly string[]): Promise<void> {
  for (let i = 0; i < ids.length; i += 128) {
    const success = ids.slice(i, i + 128).map((id, j) => {
      const value = encodeValue({ type, id, address: `10.0.${(i + j) >> 8}.${(i + j) & 255}:4000`, weight: 1, meta: {} });
      return { request_put: { key: Buffer.from(`${prefix}/${type}/${id}`), value: Buffer.from(value) } };
    });
    await client.kv.txn({ success });
  }
}

/** How many gRPC calls of `method` (`Range`, `Put`...) `member` has answered since it started. */
export async function etcdCallsAnswered(member: EtcdCluster['members'][number], method: string): Promise<number> {
  return (await etcdMetrics(member))('grpc_server_handled_total', method);
}

/** A member's /metrics now, as a sum of a metric's samples (those of one gRPC method, if given). */
async function etcdMetrics(member: EtcdCluster['members'][number]): Promise<(name: string, method?: string) => number> {
  const lines = (await (await fetch(`${member.clientUrl}/metrics`)).text()).split('\n');
  return (name, method) =>
    lines
      .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
      .filter((l) => !method || l.includes(`grpc_method="${method}"`))
      .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
}

/** A FailoverPool following `prefix`'s servers of `type`, with a new discovery on `etcd`, and its discovery and watch. */
export interface FollowingPool {
  pool: FailoverPool;
  discovery: EtcdDiscovery;
  watch: Watch;
  /** The pool's size after every membership change (so that a test can say it never reached 0). */
  sizes: number[];
}

export function followingPool(etcd: Etcd3, prefix: string, type: string, cleanup: (() => unknown)[]): FollowingPool {
  const sizes: number[] = [];
  const pool: FailoverPool = new FailoverPool({ transport, servers: [], onMembershipChange: () => void sizes.push(pool.servers().length) });
  cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
  const discovery = new EtcdDiscovery({ client: etcd, prefix, backoff: { initialMs: 50, maxMs: 500 } });
  const watch = followDiscovery(pool, discovery, { type });
  cleanup.push(() => watch.close());
  return { pool, discovery, watch, sizes };
}
