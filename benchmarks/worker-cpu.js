// The worker hop's CPU cost per call, steadier than throughput on a shared machine: client and
// server in this one process (TCP on loopback), the trivial `Spin.add` at 256 in flight, on the
// event loop and through a WorkerPool of one worker, alternating. The figure is the process's CPU
// time (every thread: client, server, worker) per completed call; the difference between the
// two is what the hop costs, as CPU, whatever share of the machine the run got.
//
//   node benchmarks/worker-cpu.js [--rounds 3] [--ms 1500]
import { parseArgs } from 'node:util';
import { createClient, createServiceDispatch } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ClientStream, RpcServer } from '@skein/stream';
import { WorkerPool } from '@skein/workers';
import { median } from './lib/aggregate.js';
import { closedLoop } from './lib/closed-loop.js';
import { environment } from './lib/environment.js';
import { transportFor } from './lib/skein-transports.js';
import spinModule, { Spin } from './lib/spin-service.js';

const { values: flags } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, ms: { type: 'string', default: '1500' } } });

async function cpuPerCall(pooled) {
  const pool = pooled ? await WorkerPool.start({ module: new URL('./lib/spin-service.js', import.meta.url), workers: 1 }) : undefined;
  const server = new RpcServer({ dispatch: pool ?? createServiceDispatch(spinModule) });
  const bound = await server.listen(transportFor('tcp', 'server'), '127.0.0.1:0');
  const stream = await ClientStream.connect({ transport: transportFor('tcp', 'client'), address: `127.0.0.1:${bound.port}`, window: 256 });
  const spin = createClient(Spin, stream, { codec: msgpackCodec });
  const arg = { a: 1, b: 2 };
  let u0;
  let u1;
  const cpu = () => {
    const u = process.resourceUsage();
    return u.userCPUTime + u.systemCPUTime;
  };
  const { calls } = await closedLoop({
    inFlight: 256,
    warmupMs: 500,
    measureMs: Number(flags.ms),
    call: (t0, done) => void spin.add(arg).then(() => done(null, t0), (err) => done(err, t0)),
    mark: (edge) => (edge === 'start' ? (u0 = cpu()) : (u1 = cpu())),
  });
  stream.destroy();
  await server.close();
  await pool?.close();
  return (u1 - u0) / calls;
}

const loop = [];
const pooled = [];
for (let r = 0; r < Number(flags.rounds); r++) {
  loop.push(await cpuPerCall(false));
  pooled.push(await cpuPerCall(true));
}
const f = (xs) => xs.map((x) => x.toFixed(2)).join(' / ');
console.log(environment(['node benchmarks/worker-cpu.js', ...process.argv.slice(2)].join(' ')));
console.log(`CPU µs per call, client + server + worker: event loop ${median(loop).toFixed(2)} (${f(loop)}), pool of 1 ${median(pooled).toFixed(2)} (${f(pooled)}); the hop: ${(median(pooled) - median(loop)).toFixed(2)} µs`);
