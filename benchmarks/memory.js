// What a connection costs in memory, and whether memory stays put under load:
// - idle: the server's RSS growth per connection with `--connections` (10,000) idle connections
//   open, Skein's RpcServer (stream echo) against a bare node:net echo server (servers/raw.js).
//   Server and client each in their own process on loopback; each connection has carried
//   `--calls` calls (1); RSS is read after a GC, before the client connects and after it holds
//   them all.
// - flood: the server's RSS every second through `--flood-seconds` (default 20; the target's
//   run is 300) of 256-in-flight calls, after a 5 s warm-up: raw echo, stream send(), api add().
//
//   node benchmarks/memory.js                        both, short flood; updates docs/benchmarks.md
//   node benchmarks/memory.js --flood-seconds 300    the 5-minute flood
//   node benchmarks/memory.js --only idle            one part, into results/memory-only.json
//   node benchmarks/memory.js --calls 0              idle connections that never carried a call
//
// Run `pnpm build` first: the servers import the built packages.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { spawnChild } from './lib/child-lines.js';
import { runClientProcess } from './lib/client-run.js';
import { machine } from './lib/environment.js';
import { int } from './lib/format.js';
import { writeMemoryReport } from './lib/memory-report.js';
import { ServerHandle } from './lib/server-handle.js';
import { matrix } from './scenarios.js';

const { values: flags } = parseArgs({
  options: {
    connections: { type: 'string', default: '10000' },
    calls: { type: 'string', default: '1' },
    'flood-seconds': { type: 'string', default: '20' },
    only: { type: 'string' },
    'no-report': { type: 'boolean', default: false },
  },
});

const FLOOD_WARMUP_MS = 5000;
const FLOODED = ['raw tcp 32B @256', 'skein/stream/send tcp 32B @256', 'skein/api tcp msgpack @256'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function main() {
  const connections = Number(flags.connections);
  const calls = Number(flags.calls);
  const floodSeconds = Number(flags['flood-seconds']);
  const command = ['node benchmarks/memory.js', ...process.argv.slice(2)].join(' ');
  const results = { machine: machine(command), connections, calls, flood_seconds: floodSeconds, idle: [], flood: [] };
  if (!flags.only || flags.only === 'idle') {
    for (const system of ['raw', 'skein']) results.idle.push(await idleCost(system, connections, calls));
  }
  if (!flags.only || flags.only === 'flood') {
    for (const name of FLOODED) results.flood.push(await floodRss(name, floodSeconds));
  }
  const file = new URL(`./results/${flags.only ? 'memory-only' : 'memory'}.json`, import.meta.url);
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  if (!flags.only && !flags['no-report']) writeMemoryReport(results);
}

/** Server RSS before and after the client opens `connections` idle connections. */
async function idleCost(system, connections, calls) {
  // Room for the connections plus the process's own files, in both processes.
  const params = { system, layer: 'stream', transport: 'tcp', codec: 'none', maxConnections: connections, fdLimit: connections + 1024 };
  const server = await ServerHandle.start(system, params, { nodeFlags: ['--expose-gc'] });
  try {
    const before = await settledRss(server);
    const client = await holdConnections(system, { ...params, address: server.address, connections, calls });
    const after = await settledRss(server);
    await client.stop();
    const record = { system, connections, calls, rss_before_mb: mb(before), rss_after_mb: mb(after), bytes_per_connection: Math.round((after - before) / connections) };
    console.log(`idle ${system.padEnd(6)} ${int(connections)} connections: ${record.rss_before_mb} MB -> ${record.rss_after_mb} MB, ${int(record.bytes_per_connection)} B per connection`);
    return record;
  } finally {
    await server.stop();
  }
}

/** RSS once the server has been quiet for a second and has collected its garbage. */
async function settledRss(server) {
  await sleep(1000);
  server.collectGarbage();
  await sleep(200);
  return (await server.usage()).rss;
}

/** Starts clients/idle-connections.js; resolves once every connection is open and has made its call. */
function holdConnections(system, params) {
  return new Promise((resolve, reject) => {
    const { child, exited } = spawnChild('client', system, { ...params, script: 'idle-connections' }, {
      onLine(word) {
        if (word === 'OPEN') resolve({ stop: () => (child.stdin.end(), exited) });
      },
    });
    exited.then(({ code, signal }) => reject(new Error(`idle-connections client exited (${signal ?? code}) before it held its connections`)));
  });
}

/** The server's RSS once a second through one closed-loop run of `seconds`. */
async function floodRss(name, seconds) {
  const scenario = matrix({ quick: false }).find((s) => s.name === name);
  const params = { ...scenario, load: { warmupMs: FLOOD_WARMUP_MS, measureMs: seconds * 1000 } };
  const server = await ServerHandle.start(scenario.system, params);
  const samples = [];
  let timer;
  const sample = () => samples.push(server.usage().then((u) => u.rss));
  try {
    const result = await runClientProcess(scenario.system, { ...params, address: server.address, addresses: [server.address] }, {
      onMark(edge) {
        if (edge === 'start') {
          sample();
          timer = setInterval(sample, 1000);
        } else {
          clearInterval(timer);
          sample();
        }
      },
    });
    const rss = (await Promise.all(samples)).map(mb);
    const first = rss[0];
    const record = {
      scenario: name,
      seconds,
      calls_per_s: Math.round(result.calls_per_s),
      rss_mb: rss,
      first_mb: first,
      min_mb: Math.min(...rss),
      max_mb: Math.max(...rss),
      last_mb: rss.at(-1),
      // The largest distance of any reading from the first, as a share of it: flat means ≤ 10 %.
      max_drift: Math.max(...rss.map((v) => Math.abs(v - first) / first)),
    };
    console.log(`flood ${name.padEnd(32)} ${int(record.calls_per_s)} calls/s, RSS ${record.first_mb} MB first, ${record.min_mb}–${record.max_mb} MB, ${record.last_mb} MB last`);
    return record;
  } finally {
    clearInterval(timer);
    await server.stop();
  }
}

const mb = (bytes) => Math.round((bytes / 2 ** 20) * 10) / 10;

main().catch((err) => {
  console.error(err.message);
  process.exitCode = 1;
});
