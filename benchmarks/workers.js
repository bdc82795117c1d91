// The worker-pool benchmark: the same Spin service on the server's event loop and on a
// WorkerPool of 1 and 2 threads, each server in its own process, one closed-loop client
// (a ClientStream and the typed client, in this process) at 256 in flight.
//
// - `work`: a CPU-bound handler of about 20 µs (loop iterations calibrated here, once, before
//   any server starts). The pool should scale it with cores.
// - `add`: a trivial handler; pool ÷ loop is the cost of the hop to a worker and back.
//
//   node benchmarks/workers.js [--measure-ms 2000] [--rounds 2] [--work-us 20]
//
// The runs go in rounds (every scenario once, then again), and the median of each is printed
// as a markdown table, with the server's CPU per call split by thread (its main thread, the
// workers, V8's own threads: from /proc, Linux only). Nothing is pinned: on a 2-core machine
// there is no core to keep the client away from the pool's two workers, so the client's CPU
// competes with them. Run `pnpm build` first.
import os from 'node:os';
import { parseArgs } from 'node:util';
import { createClient } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ClientStream } from '@skein/stream';
import { closedLoop } from './lib/closed-loop.js';
import { environment } from './lib/environment.js';
import { int, times } from './lib/format.js';
import { markdownTable } from './lib/markdown-table.js';
import { ServerHandle } from './lib/server-handle.js';
import { threadSplit, threadUsage } from './lib/proc-usage.js';
import { transportFor } from './lib/skein-transports.js';
import { Spin, spin } from './lib/spin-service.js';
import { median } from './lib/aggregate.js';

const { values: flags } = parseArgs({
  options: {
    'measure-ms': { type: 'string', default: '2000' },
    'warmup-ms': { type: 'string', default: '700' },
    rounds: { type: 'string', default: '2' },
    'work-us': { type: 'string', default: '20' },
    'in-flight': { type: 'string', default: '256' },
    handler: { type: 'string' },
  },
});
const measureMs = Number(flags['measure-ms']);
const warmupMs = Number(flags['warmup-ms']);
const inFlight = Number(flags['in-flight']);

/** Loop iterations for `us` microseconds of `spin`, on this machine, best of several timings. */
function calibrate(us) {
  const n = 1_000_000;
  let best = Infinity;
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    spin(n);
    best = Math.min(best, performance.now() - t0);
  }
  return Math.round((n * us) / (best * 1000));
}

const iterations = calibrate(Number(flags['work-us']));
const SCENARIOS = [
  { handler: 'work', workers: 0 },
  { handler: 'work', workers: 1 },
  { handler: 'work', workers: 2 },
  { handler: 'add', workers: 0 },
  { handler: 'add', workers: 1 },
  { handler: 'add', workers: 2 },
].filter((s) => flags.handler === undefined || s.handler === flags.handler);

async function runOnce({ handler, workers }) {
  const server = await ServerHandle.start('workers', { workers });
  try {
    const address = `127.0.0.1:${server.address.port}`;
    const stream = await ClientStream.connect({ transport: transportFor('tcp', 'client'), address, window: inFlight });
    const spinClient = createClient(Spin, stream, { codec: msgpackCodec });
    const arg = { a: 1, b: 2 };
    const call =
      handler === 'work'
        ? (t0, done) => void spinClient.work(iterations).then(() => done(null, t0), (err) => done(err, t0))
        : (t0, done) => void spinClient.add(arg).then(() => done(null, t0), (err) => done(err, t0));
    let cpu0;
    let cpu1;
    let own0;
    let own1;
    let threads0;
    let threads1;
    const result = await closedLoop({
      inFlight,
      warmupMs,
      measureMs,
      call,
      mark: (edge) => {
        if (edge === 'start') {
          own0 = process.cpuUsage();
          threads0 = threadUsage(server.pid);
        } else {
          own1 = process.cpuUsage(own0);
          threads1 = threadUsage(server.pid);
        }
        void server.usage().then((u) => (edge === 'start' ? (cpu0 = u) : (cpu1 = u)));
      },
    });
    await new Promise((r) => setTimeout(r, 50)); // the last usage answer
    stream.destroy();
    const serverCpu = cpu0 && cpu1 ? (cpu1.cpu_us - cpu0.cpu_us) / 1e6 / result.seconds : NaN;
    const clientCpu = (own1.user + own1.system) / 1e6 / result.seconds;
    // Where the server's CPU went, per call: its main thread, the workers, V8's own threads.
    const split = threadSplit(server.pid, threads0, threads1, workers);
    const perCall = (us) => us / result.calls;
    return {
      rate: result.calls / result.seconds,
      p50: result.histogram.quantileNs(0.5) / 1e6,
      serverCpu,
      clientCpu,
      mainUs: perCall(split.main),
      workersUs: perCall(split.workers),
      restUs: perCall(split.rest),
    };
  } finally {
    await server.stop();
  }
}

const runs = new Map(SCENARIOS.map((s) => [s, []]));
const loadStart = os.loadavg()[0];
for (let r = 0; r < Number(flags.rounds); r++) {
  for (const s of SCENARIOS) {
    const res = await runOnce(s);
    runs.get(s).push(res);
    console.error(`round ${r + 1} ${s.handler} workers=${s.workers}: ${int(res.rate)} calls/s, server CPU ${res.serverCpu.toFixed(2)} cores, client ${res.clientCpu.toFixed(2)}`);
  }
}

const med = (s, k) => median(runs.get(s).map((x) => x[k]));
const base = (handler) => SCENARIOS.find((s) => s.handler === handler && s.workers === 0);
const rows = SCENARIOS.map((s) => [
  s.handler === 'work' ? `work (~${flags['work-us']} µs CPU)` : 'add (trivial)',
  s.workers === 0 ? 'event loop' : `pool, ${s.workers} worker${s.workers > 1 ? 's' : ''}`,
  int(med(s, 'rate')),
  runs.get(s).map((x) => int(x.rate)).join(' / '),
  s.workers === 0 ? '1×' : times(med(s, 'rate') / med(base(s.handler), 'rate')),
  med(s, 'serverCpu').toFixed(2),
  ((med(s, 'serverCpu') / med(s, 'rate')) * 1e6).toFixed(1),
  med(s, 'clientCpu').toFixed(2),
  ((med(s, 'clientCpu') / med(s, 'rate')) * 1e6).toFixed(1),
  med(s, 'p50').toFixed(2),
  `${med(s, 'mainUs').toFixed(1)} / ${s.workers === 0 ? '–' : med(s, 'workersUs').toFixed(1)} / ${med(s, 'restUs').toFixed(1)}`,
]);
console.log(environment(['node benchmarks/workers.js', ...process.argv.slice(2)].join(' ')));
console.log(`${iterations} spin iterations per work call; load average ${loadStart.toFixed(2)} at start, ${os.loadavg()[0].toFixed(2)} at end`);
console.log(markdownTable(['handler', 'dispatch', 'calls/s (median)', 'runs', '÷ event loop', 'server CPU (cores)', 'server CPU µs per call', 'client CPU (cores)', 'client CPU µs per call', 'p50 ms', 'server µs per call: main / workers / V8 threads'], rows, 2));
