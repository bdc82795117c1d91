// Discovery on etcd, measured: how soon a new server gets calls, how long a dead one keeps
// getting them, and whether following discovery costs anything per call. Starts its own etcd on
// loopback (as the tests do; Debian's etcd-server), servers and clients in this one process.
// Run `pnpm build` first: this imports the built packages, as an application would.
//
//   node benchmarks/discovery.js [--rounds 5] [--seconds 2] [--only throughput]
//
// Prints markdown for docs/discovery.md. Not part of `pnpm bench`.
import { createCluster, createServiceDispatch, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { EtcdDiscovery, EtcdRegistrar, followClusterDiscovery } from '@skein/discovery-etcd';
import { runtime } from '@skein/runtime';
import { FailoverPool, RpcServer, createRouter, followDiscovery } from '@skein/stream';
import { startEtcd } from '@skein/test-utils/etcd';
import { tcpTransport } from '@skein/transport-tcp';
import { Etcd3 } from 'etcd3';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { closedLoop } from './lib/closed-loop.js';
import { environment } from './lib/environment.js';
import { fixed, int } from './lib/format.js';
import { markdownTable } from './lib/markdown-table.js';

const { values: flags } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, seconds: { type: 'string', default: '2' }, serve: { type: 'string' }, only: { type: 'string' } } });
const ROUNDS = Number(flags.rounds);
const MEASURE_MS = Number(flags.seconds) * 1000;
const TTL_SECONDS = 2;
const transport = tcpTransport(runtime);
const utf8 = new TextEncoder();
const Echo = service('Echo', { who: method() });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (xs) => `${fixed(median(xs))} (${fixed(Math.min(...xs))}–${fixed(Math.max(...xs))})`;

/** A server answering `who` (router) and `Echo.who` (api); `onCall` sees every call. */
async function startServer(name, onCall = () => {}) {
  const api = createServiceDispatch({ codec: msgpackCodec, services: [implement(Echo, { who: () => name })] });
  const router = createRouter({ who: () => (onCall(), utf8.encode(name)) });
  const server = new RpcServer({ closeWaitMs: 1000, dispatch: { dispatch: (req) => (req.action === 'who' ? router.dispatch(req) : api.dispatch(req)) } });
  const a = await server.listen(transport, '127.0.0.1:0');
  return { name, server, address: `127.0.0.1:${a.port}` };
}

/**
 * Keeps `inFlight` loops calling until `stop()`, each pausing a millisecond between calls: a
 * steady stream (about 1 ms resolution for the timings) that leaves the CPU to etcd and the
 * servers. Failures are counted, not thrown.
 */
function flood(call, inFlight = 8) {
  let running = true;
  let failed = 0;
  const loop = async () => {
    while (running) {
      await call().catch(() => void failed++);
      await sleep(1);
    }
  };
  const all = Promise.all(Array.from({ length: inFlight }, loop));
  return { stop: async () => ((running = false), await all, failed) };
}

/** Registration to the first call the new server answers, while a client floods the type. */
async function timeToFirstCall(endpoints) {
  const prefix = 'bench/first';
  const etcd = new Etcd3({ hosts: endpoints });
  const registrar = new EtcdRegistrar({ client: etcd, prefix, ttlSeconds: 10 });
  const pool = new FailoverPool({ transport, servers: [] });
  const watch = followDiscovery(pool, new EtcdDiscovery({ client: etcd, prefix }), { type: 'echo' });
  const base = await startServer('base');
  const baseReg = await registrar.register({ type: 'echo', id: 'base', address: base.address });
  while (pool.servers().length === 0) await sleep(5);
  const f = flood(() => pool.call('who'));
  const fromStart = [];
  const fromResolved = [];
  for (let i = 0; i < ROUNDS; i++) {
    let first = 0;
    const s = await startServer(`new${i}`, () => (first ||= performance.now()));
    const t0 = performance.now();
    const reg = await registrar.register({ type: 'echo', id: s.name, address: s.address });
    const t1 = performance.now();
    while (!first) await sleep(1);
    fromStart.push(first - t0);
    fromResolved.push(first - t1);
    await reg.close();
    await s.server.close();
  }
  const failed = await f.stop();
  await baseReg.close();
  await watch.close();
  await pool.close();
  await base.server.close();
  etcd.close();
  return { fromStart, fromResolved, failed };
}

/**
 * A server process registers and is then killed with SIGKILL, so its lease is never revoked: how
 * long until etcd deletes its key, and when the client last routed a call to it.
 */
async function deadServer(endpoints) {
  const prefix = 'bench/dead';
  const etcd = new Etcd3({ hosts: endpoints });
  const lastRouted = new Map();
  const pool = new FailoverPool({
    transport,
    servers: [],
    shouldFailover: (_err, attempt) => void lastRouted.set(attempt.address, performance.now()),
  });
  const leaves = new Map();
  const removed = new Map();
  const raw = new EtcdDiscovery({ client: etcd, prefix }).watch((e) => e.kind === 'leave' && leaves.set(e.entry.address, performance.now()));
  const watch = followDiscovery(pool, new EtcdDiscovery({ client: etcd, prefix }), { type: 'echo' });
  const registrar = new EtcdRegistrar({ client: etcd, prefix });
  const keep = await startServer('keep');
  const keepReg = await registrar.register({ type: 'echo', id: 'keep', address: keep.address });
  const rows = [];
  for (let i = 0; i < ROUNDS; i++) {
    const child = await serverProcess(endpoints[0], prefix, `dead${i}`);
    const s = { address: child.address };
    while (!pool.servers().some((v) => v.address === s.address)) await sleep(5);
    const f = flood(() => pool.call('who', undefined, { idempotent: true }));
    await sleep(200);
    const killed = performance.now();
    child.proc.kill('SIGKILL');
    while (!leaves.has(s.address) || pool.servers().some((v) => v.address === s.address)) await sleep(5);
    removed.set(s.address, performance.now());
    const failed = await f.stop();
    const expiry = leaves.get(s.address);
    const last = lastRouted.get(s.address) ?? killed;
    rows.push({ expiryAfterKill: expiry - killed, lastRoutedAfterKill: last - killed, lastRoutedAfterExpiry: last - expiry, removedAfterExpiry: removed.get(s.address) - expiry, failed });
  }
  await keepReg.close();
  await raw.close();
  await watch.close();
  await pool.close();
  await keep.server.close();
  etcd.close();
  return rows;
}

/** Calls/s through a hand-built pool or cluster and through the same fed by etcd, in interleaved rounds. */
async function throughput(endpoints) {
  const prefix = 'bench/load';
  const etcd = new Etcd3({ hosts: endpoints });
  const servers = await Promise.all(['a', 'b', 'c'].map((n) => startServer(n)));
  const registrar = new EtcdRegistrar({ client: etcd, prefix });
  const regs = await Promise.all(servers.map((s) => registrar.register({ type: 'echo', id: s.name, address: s.address })));
  const members = servers.map((s) => ({ id: s.name, address: s.address }));
  const variants = {
    'FailoverPool, hand-built': () => {
      const pool = new FailoverPool({ transport, servers: servers.map((s) => s.address) });
      return { call: () => pool.call('who'), close: () => pool.close() };
    },
    'FailoverPool, fed by etcd': () => {
      const pool = new FailoverPool({ transport, servers: [] });
      const watch = followDiscovery(pool, new EtcdDiscovery({ client: etcd, prefix }), { type: 'echo' });
      return { ready: () => pool.servers().length === 3, call: () => pool.call('who'), close: async () => (await watch.close(), await pool.close()) };
    },
    // The resilience kit on: a breaker per server and outlier ejection (two clock reads per call).
    'FailoverPool, fed by etcd, breaker + ejection': () => {
      const pool = new FailoverPool({ transport, servers: [], circuitBreaker: {}, outlierEjection: {} });
      const watch = followDiscovery(pool, new EtcdDiscovery({ client: etcd, prefix }), { type: 'echo' });
      return { ready: () => pool.servers().length === 3, call: () => pool.call('who'), close: async () => (await watch.close(), await pool.close()) };
    },
    'createCluster, hand-built': () => {
      const rpc = createCluster({ codec: msgpackCodec, transport, types: { echo: { services: [Echo], servers: members } } });
      return { call: () => rpc.echo.Echo.who(), close: () => rpc.$cluster.close() };
    },
    'createCluster, fed by etcd': () => {
      const rpc = createCluster({ codec: msgpackCodec, transport, types: { echo: { services: [Echo] } } });
      const watch = followClusterDiscovery(rpc.$cluster, new EtcdDiscovery({ client: etcd, prefix }));
      return { ready: () => rpc.$cluster.members('echo').length === 3, call: () => rpc.echo.Echo.who(), close: async () => (await watch.close(), await rpc.$cluster.close()) };
    },
  };
  const runs = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let round = 0; round < Math.min(ROUNDS, 3); round++) {
    for (const [name, make] of Object.entries(variants)) {
      const v = make();
      while (v.ready && !v.ready()) await sleep(5);
      const r = await closedLoop({
        inFlight: 64,
        warmupMs: 300,
        measureMs: MEASURE_MS,
        call: (t0, done) => void v.call().then(() => done(null, t0), (err) => done(err, t0)),
      });
      runs[name].push(r.calls / r.seconds);
      await v.close();
    }
  }
  await Promise.all(regs.map((r) => r.close()));
  await Promise.all(servers.map((s) => s.server.close()));
  etcd.close();
  return runs;
}

/** This script in server mode, in a child process: registers with a short TTL, prints its address. */
async function serverProcess(endpoint, prefix, id) {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', [endpoint, prefix, id].join(',')], { stdio: ['pipe', 'pipe', 'inherit'] });
  const address = await new Promise((resolve, reject) => {
    proc.stdout.setEncoding('utf8').on('data', (d) => /registered (\S+)/.test(d) && resolve(/registered (\S+)/.exec(d)[1]));
    proc.once('exit', (code) => reject(new Error(`server process exited (${code})`)));
  });
  return { proc, address };
}

async function serve(spec) {
  const [endpoint, prefix, id] = spec.split(',');
  const s = await startServer(id);
  await new EtcdRegistrar({ client: new Etcd3({ hosts: endpoint }), prefix, ttlSeconds: TTL_SECONDS }).register({ type: 'echo', id, address: s.address });
  console.log(`registered ${s.address}`);
  // Goes with the benchmark, however it ends: its stdin closes when the parent is gone.
  process.stdin.on('end', () => process.exit(0)).resume();
}

async function main() {
  const cluster = await startEtcd();
  try {
    const command = `node benchmarks/discovery.js --rounds ${ROUNDS} --seconds ${MEASURE_MS / 1000}${flags.only ? ` --only ${flags.only}` : ''}`;
    if (flags.only === 'throughput') {
      const load = await throughput(cluster.endpoints);
      console.log(`${environment(command)}; one etcd 3.4 member on loopback.\n`);
      console.log(markdownTable(['client', 'calls/s (median)', 'runs'], Object.entries(load).map(([k, v]) => [k, int(median(v)), v.map(int).join(', ')])));
      await cluster.close();
      process.exit(0);
    }
    const first = await timeToFirstCall(cluster.endpoints);
    console.error('first call: done');
    const dead = await deadServer(cluster.endpoints);
    console.error('dead server: done');
    const load = await throughput(cluster.endpoints);
    console.error('throughput: done');
    console.log(`${environment(command)}; one etcd 3.4 member on loopback; median (min–max) over ${ROUNDS} rounds, in ms.\n`);
    console.log(
      markdownTable(
        ['what', 'ms'],
        [
          ['`register()` called → first call answered by the new server', ms(first.fromStart)],
          ['`register()` resolved → first call answered by the new server', ms(first.fromResolved)],
          [`server killed (TTL ${TTL_SECONDS} s) → etcd deletes its key (lease expiry, seen by a watch)`, ms(dead.map((r) => r.expiryAfterKill))],
          ['server killed → last call routed to it', ms(dead.map((r) => r.lastRoutedAfterKill))],
          ['lease expiry → last call routed to it (negative: it had stopped before)', ms(dead.map((r) => r.lastRoutedAfterExpiry))],
          ['lease expiry → out of the pool', ms(dead.map((r) => r.removedAfterExpiry))],
        ],
      ),
    );
    console.log(`\nFailed calls during these: ${first.failed} while servers joined, ${dead.reduce((n, r) => n + r.failed, 0)} while servers died (idempotent calls).\n`);
    console.log(markdownTable(['client', 'calls/s (median)', 'runs'], Object.entries(load).map(([k, v]) => [k, int(median(v)), v.map(int).join(', ')])));
  } finally {
    await cluster.close();
  }
  process.exit(0);
}

if (flags.serve) await serve(flags.serve);
else await main();
