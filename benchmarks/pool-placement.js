// Where a FailoverPool's cost goes: the pool over three servers in three processes (as run.js's
// pool rows), the same pool over three servers in ONE process, and one ClientStream to one
// server, alternating, each a closed loop of `send()` at 256 in flight for 1 s of warm-up and
// 3 s measured, with client and server CPU per call. On a 2-core machine the three-process
// layout puts four busy processes on two cores; the one-process layout tells the pool's own
// client cost apart from that. A diagnostic beside the target rows, not a target.
//
//   node benchmarks/pool-placement.js [--rounds 3]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatAddress } from '@skein/core';
import { runtime } from '@skein/runtime';
import { ClientStream, FailoverPool, RpcServer } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { ECHO_MSG, echoRouter } from './lib/skein-echo.js';

const IN_FLIGHT = 256;
const WARMUP_MS = 1000;
const MEASURE_MS = 3000;
const LAYOUTS = { stream: [1], 'pool, 3 servers in 1 process': [3], 'pool, 3 servers in 3 processes': [1, 1, 1] };
const transport = tcpTransport(runtime);

/** A server process: `n` echo servers, their ports on the first line; each stdin line asks for its CPU time. */
async function serve(n) {
  const ports = [];
  for (let i = 0; i < n; i++) ports.push((await new RpcServer({ dispatch: echoRouter() }).listen(transport, '127.0.0.1:0')).port);
  console.log(JSON.stringify(ports));
  const usage = () => process.resourceUsage();
  createInterface({ input: process.stdin }).on('line', () => console.log(usage().userCPUTime + usage().systemCPUTime)).on('close', () => process.exit(0));
}

/** Starts a server process of `n` servers: its addresses, and a way to read its CPU time (µs). */
async function startServers(n) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', String(n)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const ports = JSON.parse((await lines.next()).value);
  const cpu = async () => {
    child.stdin.write('\n');
    return Number((await lines.next()).value);
  };
  return { addresses: ports.map((port) => formatAddress({ host: '127.0.0.1', port })), cpu, stop: () => child.stdin.end() };
}

async function measure(name) {
  const procs = await Promise.all(LAYOUTS[name].map(startServers));
  const addresses = procs.flatMap((p) => p.addresses);
  const caller = name === 'stream' ? await ClientStream.connect({ transport, address: addresses[0], window: IN_FLIGHT }) : new FailoverPool({ transport, servers: addresses, pool: { stream: { window: IN_FLIGHT } } });
  const msg = new Uint8Array(32).fill(0x5a);
  let counting = false;
  let calls = 0;
  let running = true;
  const done = (err) => {
    if (err) throw err;
    if (counting) calls++;
    if (running) caller.send(ECHO_MSG, msg, {}, done);
  };
  for (let i = 0; i < IN_FLIGHT; i++) caller.send(ECHO_MSG, msg, {}, done);
  await new Promise((r) => setTimeout(r, WARMUP_MS));
  const cpuOf = async () => (await Promise.all(procs.map((p) => p.cpu()))).reduce((a, b) => a + b, 0);
  const s0 = await cpuOf();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  counting = true;
  await new Promise((r) => setTimeout(r, MEASURE_MS));
  counting = false;
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const server = (await cpuOf()) - s0;
  running = false;
  await new Promise((r) => setTimeout(r, 200));
  await (name === 'stream' ? caller.destroy() : caller.close());
  for (const p of procs) p.stop();
  return { callsPerS: calls / seconds, serverUs: server / calls, clientUs: (c.user + c.system) / calls };
}

async function main() {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
  const results = Object.fromEntries(Object.keys(LAYOUTS).map((k) => [k, []]));
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const name of Object.keys(LAYOUTS)) {
      const m = await measure(name);
      results[name].push(m);
      console.log(`round ${r + 1} ${name}: ${Math.round(m.callsPerS).toLocaleString('en-US')} calls/s, server ${m.serverUs.toFixed(2)} + client ${m.clientUs.toFixed(2)} µs per call`);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = median(results.stream.map((m) => m.callsPerS));
  console.log('| layout | calls/s (median) | of one stream | server + client CPU µs per call (medians) |\n| --- | ---: | ---: | ---: |');
  for (const [name, ms] of Object.entries(results)) {
    const cps = median(ms.map((m) => m.callsPerS));
    console.log(`| ${name} | ${Math.round(cps).toLocaleString('en-US')} | ${((cps / base) * 100).toFixed(1)} % | ${median(ms.map((m) => m.serverUs)).toFixed(2)} + ${median(ms.map((m) => m.clientUs)).toFixed(2)} |`);
  }
  process.exit(0);
}

if (process.argv[2] === '--serve') await serve(Number(process.argv[3]));
else await main();
