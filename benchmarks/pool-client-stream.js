// What a pool's stream pays for keeping its items to write again (should a draining server
// refuse it unrun): client streams through a ConnPool, which keeps every item written before
// the server speaks, beside the same streams on a ClientStream, which keeps nothing. Rows:
//   short: streams of 8 items of 32 B, ended at once, 64 in flight (all 8 kept: the worst case);
//   long:  one stream writing 32 B items for the whole run (kept until the server's first credit).
// Client CPU per stream (short) or per item (long) and the rate, 1 s warm-up, 3 s measured,
// rounds alternating between the `--stream` builds given (the server runs the same build).
//
//   node benchmarks/pool-client-stream.js [--stream dist/index.js,other/dist/index.js] [--rounds 3]
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runtime } from '@skein/runtime';
import { tcpTransport } from '@skein/transport-tcp';

const WARMUP_MS = 1000;
const MEASURE_MS = 3000;
const SHORT_ITEMS = 8;
const SHORT_IN_FLIGHT = 64;
const ITEM = new Uint8Array(32).fill(7);
const transport = tcpTransport(runtime);
const self = fileURLToPath(import.meta.url);

const { values: flags } = parseArgs({
  options: { stream: { type: 'string', default: '@skein/stream' }, rounds: { type: 'string', default: '3' }, serve: { type: 'string' }, client: { type: 'string' }, port: { type: 'string' }, row: { type: 'string' } },
});

const load = (spec) => import(spec.startsWith('@') ? spec : pathToFileURL(spec).href);

/** The server: reads every item of a stream, answers how many. */
async function serve(spec) {
  const { RpcServer, createRouter } = await load(spec);
  const sink = async (req) => {
    let n = 0;
    for await (const _ of req.stream) n++;
    return new Uint8Array([n & 255]);
  };
  const server = new RpcServer({ dispatch: createRouter({ sink }) });
  console.log((await server.listen(transport, '127.0.0.1:0')).port);
}

/** Runs `body` in a closed loop until `ms` pass: how many it finished. */
async function loop(ms, inFlight, body) {
  const end = Date.now() + ms;
  let done = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (Date.now() < end) {
        await body();
        done++;
      }
    }),
  );
  return done;
}

const cpuNow = () => {
  const u = process.resourceUsage();
  return u.userCPUTime + u.systemCPUTime;
};

async function shortStream(caller) {
  const s = caller.openStream('sink');
  for (let i = 0; i < SHORT_ITEMS; i++) await s.write(ITEM);
  s.end();
  await s.result;
}

/** One row on one build: `{ rate, cpuUs }` per stream (short) or item (long). */
async function client(spec, port, row) {
  const { ConnPool, ClientStream } = await load(spec);
  const address = `127.0.0.1:${port}`;
  const pooled = row.endsWith('pool');
  const caller = pooled ? new ConnPool({ transport, address, maxConnections: 1 }) : await ClientStream.connect({ transport, address });
  if (row.startsWith('short')) {
    await loop(WARMUP_MS, SHORT_IN_FLIGHT, () => shortStream(caller));
    const cpu0 = cpuNow();
    const n = await loop(MEASURE_MS, SHORT_IN_FLIGHT, () => shortStream(caller));
    report(n, cpuNow() - cpu0);
  } else {
    const s = caller.openStream('sink');
    await loop(WARMUP_MS, 1, () => s.write(ITEM));
    const cpu0 = cpuNow();
    const n = await loop(MEASURE_MS, 1, () => s.write(ITEM));
    report(n, cpuNow() - cpu0);
    s.end();
    await s.result;
  }
  await (pooled ? caller.close() : caller.close());
}

function report(n, cpuUs) {
  console.log(JSON.stringify({ rate: Math.round(n / (MEASURE_MS / 1000)), cpuUs: cpuUs / n }));
}

/** Starts `args` of this script in a child; resolves with its first line of output, and the child. */
async function child(args) {
  const p = spawn(process.execPath, [self, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = (await createInterface({ input: p.stdout })[Symbol.asyncIterator]().next()).value;
  return { p, line };
}

async function main() {
  const specs = flags.stream.split(',');
  const rows = ['short, pool', 'short, no pool', 'long, pool', 'long, no pool'];
  const results = {};
  for (let round = 0; round < Number(flags.rounds); round++) {
    for (const row of rows) {
      for (const spec of specs) {
        const server = await child(['--serve', spec]);
        const { p, line } = await child(['--client', spec, '--port', server.line, '--row', row]);
        await new Promise((r) => p.once('exit', r));
        server.p.kill();
        (results[`${row} | ${spec}`] ??= []).push(JSON.parse(line));
      }
    }
  }
  for (const [key, runs] of Object.entries(results)) {
    const rates = runs.map((r) => r.rate).join(' ');
    const cpu = runs.map((r) => r.cpuUs.toFixed(2)).join(' ');
    console.log(`${key}: rate/s ${rates}; client CPU µs each ${cpu}`);
  }
}

if (flags.serve) await serve(flags.serve);
else if (flags.client) await client(flags.client, flags.port, flags.row);
else await main();
