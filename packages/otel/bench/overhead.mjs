// What @skein/otel costs per call, measured in one process over TCP loopback:
//   plain   — no @skein/otel: the code every call ran before the package existed;
//   no-sdk  — tracedCaller + tracedDispatch with @opentelemetry/api alone (no SDK registered);
//   sdk     — the same with the real SDK recording every span (no export) and every metric.
// Runs alternate, so drift on a shared machine hits each variant alike; the median is printed.
// Then the wrappers alone, in ns per call: tracedCaller over a Caller that answers at once, and
// tracedDispatch over a Dispatch that replies at once (no network, so little noise).
// `streams`: items per second of a typed server stream (1,000 items a stream), the same variants.
//   node packages/otel/bench/overhead.mjs [seconds per run = 2] [rounds = 3] [calls | streams | all = all]
// Needs `pnpm --filter @skein/otel... build`.
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { createClient, createServiceDispatch, implement, method, serverStream, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { formatAddress, silentLogger } from '@skein/core';
import { tracedCaller, tracedDispatch } from '@skein/otel';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, RpcServer, ServerRequest } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';

const seconds = Number(process.argv[2] ?? 2);
const rounds = Number(process.argv[3] ?? 3);
const part = process.argv[4] ?? 'all';
const IN_FLIGHT = 64;
const transport = tcpTransport(nodeRuntime);
const Calc = service('Calc', { add: method() });
const calc = implement(Calc, { add: ({ a, b }) => a + b });

class Reader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}
const sdk = { tracerProvider: new BasicTracerProvider(), meterProvider: new MeterProvider({ readers: [new Reader()] }) };

const variants = {
  plain: { server: (d) => d, client: (c) => c },
  'no-sdk': { server: (d) => tracedDispatch(d), client: (c) => tracedCaller(c) },
  sdk: { server: (d) => tracedDispatch(d, sdk), client: (c) => tracedCaller(c, sdk) },
};

async function run(variant) {
  const dispatch = variant.server(createServiceDispatch({ codec: msgpackCodec, services: [calc], logger: silentLogger }));
  const server = new RpcServer({ dispatch });
  const address = formatAddress(await server.listen(transport, '127.0.0.1:0'));
  const stream = await ClientStream.connect({ transport, address, window: IN_FLIGHT });
  const client = createClient(Calc, variant.client(stream), { codec: msgpackCodec });
  const arg = { a: 1, b: 2 };
  for (let i = 0; i < 2000; i++) await client.add(arg); // warm-up
  let calls = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (performance.now() < end) {
        await client.add(arg);
        calls++;
      }
    }),
  );
  const rate = calls / ((performance.now() - t0) / 1000);
  stream.destroy();
  await server.close();
  return rate;
}

/** Runs every variant `rounds` times, alternating, and prints each one's median. */
async function compare(runOne, unit) {
  const results = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) for (const [name, v] of Object.entries(variants)) results[name].push(await runOne(v));
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = median(results.plain);
  for (const [name, xs] of Object.entries(results)) {
    const m = median(xs);
    console.log(`${name.padEnd(7)} ${Math.round(m).toString().padStart(7)} ${unit}  (${((m / base - 1) * 100).toFixed(1)} % vs plain; runs ${xs.map((x) => Math.round(x)).join(', ')})`);
  }
}

// ── Streams: items of a server stream, one stream at a time ───────────────────────────────────
const ITEMS = 1000;
const Feed = service('Feed', { count: serverStream() });
const feed = implement(Feed, {
  async *count({ to }) {
    for (let i = 0; i < to; i++) yield i;
  },
});

async function runStreams(variant) {
  const server = new RpcServer({ dispatch: variant.server(createServiceDispatch({ codec: msgpackCodec, services: [feed], logger: silentLogger })) });
  const address = formatAddress(await server.listen(transport, '127.0.0.1:0'));
  const stream = await ClientStream.connect({ transport, address });
  const client = createClient(Feed, variant.client(stream), { codec: msgpackCodec });
  const drain = async () => {
    let n = 0;
    for await (const _ of await client.count({ to: ITEMS })) n++;
    return n;
  };
  for (let i = 0; i < 5; i++) await drain(); // warm-up
  let items = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  while (performance.now() < end) items += await drain();
  const rate = items / ((performance.now() - t0) / 1000);
  stream.destroy();
  await server.close();
  return rate;
}

if (part === 'streams') {
  await compare(runStreams, 'items/s');
  process.exit(0);
}
await compare(run, 'calls/s');
if (part === 'calls') process.exit(0);

// ── The wrappers alone ──────────────────────────────────────────────────────────────────────
const N = 1_000_000;
const msg = new Uint8Array(5);
const none = new Uint8Array(0);
function nsPer(run) {
  for (let i = 0; i < N / 10; i++) run();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) run();
  return (performance.now() - t0) * 1e6 / N;
}
const reply = { msg, blob: none };
const answering = { send: (_a, _m, _o, notify) => notify(null, reply) };
const done = () => {};
const info = { id: 1, remote: '127.0.0.1:5555', transport: 'tcp', signal: new AbortController().signal };
const owner = { info, peerLimits: { maxMessage: 1e9, maxBlob: 1e9, maxError: 1e9 }, writeOk: () => true, writeError() {}, writeCustomError: () => true, writeTooLarge() {}, settled() {} };
const replying = { dispatch: (req) => req.reply(req.msg) };
const request = () => new ServerRequest(owner, 1, 0, -1, 'Calc.add', msg, none);
for (const [name, wrap] of Object.entries(variants)) {
  const caller = wrap.client(answering);
  const dispatch = wrap.server(replying);
  const c = nsPer(() => caller.send('Calc.add', msg, {}, done));
  const d = nsPer(() => dispatch.dispatch(request()));
  console.log(`${name.padEnd(7)} caller ${c.toFixed(0).padStart(5)} ns/call   dispatch ${d.toFixed(0).padStart(5)} ns/request (a bare request costs the same in each)`);
}

if (part === 'all') {
  console.log('streams:');
  await compare(runStreams, 'items/s');
}
