// Skein's own JavaScript per call, without sockets: a ClientStream and an RpcServer in one
// process, joined by in-memory byte connections under the real TCP transport (frame reader,
// batcher, slab), at 256 in flight (server streams: one at a time). What it prints is the cost
// of both sides of a call on this runtime's engine, free of the kernel and of the scheduling
// noise of two processes, so that engines and layers can be compared (run it with node, bun and
// deno).
//
//   node benchmarks/js-cost.js [send|call|api|pool|feed|api-feed] [--codec msgpack|cbor|stub] [--stub OPS]
//   (or: node_modules/bun/bin/bun.exe benchmarks/js-cost.js)
//
// `send` (default): the stream echo by the callback path; `call`: by the promise path; `api`:
// the typed Calculator.add; `pool`: `send` through a FailoverPool over three such servers.
// `feed` and `api-feed`: the feed's server stream of 32 B items (lib/skein-feed.js), on the
// stream layer (`req.stream.write` each, `for await` over `openStream`) and through the api (an
// async generator, `for await` over `Feed.items`, with `--codec`), one stream of FEED_ITEMS at a
// time, default stream windows; each item counts as a call.
// `--codec stub` (api only) encodes and decodes nothing, answering with bytes and values made
// once: the api's cost beside `--codec msgpack` is then the codec's share.
// `--stub` stubs only some of the codec's four operations per call (a comma list of
// client-encode, server-decode, server-encode, client-decode), the others done by `--codec`:
// what each costs where it runs, beside the rest of the call, which a loop of it alone does not say.
// Besides wall time per call it prints the process's CPU time per call.
//
// Not a throughput figure: the in-memory connections copy each batch and deliver it on the next
// turn (setImmediate), which is cheaper than a socket.
import { Buffer } from 'node:buffer';
import { formatAddress, systemClock } from '@skein/core';
import { ClientStream, FailoverPool, RpcServer } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { parseArgs } from 'node:util';
import { createClient, createServiceDispatch, implement } from '@skein/api';
import { ADD_ARG, Calculator } from './lib/calculator.js';
import { codecByName } from './lib/skein-codecs.js';
import { ECHO_MSG, echoRouter } from './lib/skein-echo.js';
import { feedDispatch, feedOpener } from './lib/skein-feed.js';
import { feedCount } from './lib/feed.js';

const IN_FLIGHT = 256;
/** The codec's operations per api call, in the order they run. */
const OPS = ['client-encode', 'server-decode', 'server-encode', 'client-decode'];
const CALLS = 500_000;
const FEED_SIZE = 32;
/** Items per server stream in the feed modes: the matrix's feed rows' count for 32 B. */
const FEED_ITEMS = feedCount(FEED_SIZE);
const ROUNDS = 5;

/** A ByteConn whose writes reach its peer's data handler on the next turn, as one chunk per batch. */
class MemoryConn {
  constructor(remote) {
    this.remote = remote;
    this.peer = undefined;
    this.handlers = undefined;
    this.inbox = [];
    this.scheduled = false;
  }
  bind(handlers) {
    this.handlers = handlers;
  }
  write(chunks) {
    // One chunk per batch, as a plain Uint8Array (what the runtime adapters hand on).
    const batch = Buffer.concat(chunks);
    this.peer.receive(new Uint8Array(batch.buffer, batch.byteOffset, batch.length));
    return true;
  }
  receive(chunk) {
    this.inbox.push(chunk);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      const chunks = this.inbox;
      this.inbox = [];
      for (const c of chunks) this.handlers.data(c);
    });
  }
  pause() {}
  resume() {}
  end() {}
  close() {}
}

/** Each listening server's accept, by port. */
const accepts = new Map();
const memoryRuntime = {
  name: 'memory',
  clock: systemClock,
  async listen(address, onConn) {
    accepts.set(address.port, onConn);
    return { address, close: async () => {} };
  },
  async connect(address) {
    const client = new MemoryConn('server');
    const server = new MemoryConn('client');
    client.peer = server;
    server.peer = client;
    accepts.get(address.port)(server);
    return client;
  },
};

const { positionals, values: flags } = parseArgs({ allowPositionals: true, options: { codec: { type: 'string', default: 'msgpack' }, stub: { type: 'string', default: '' } } });
const layer = positionals[0] ?? 'send';
if (!['send', 'call', 'api', 'pool', 'feed', 'api-feed'].includes(layer)) throw new Error(`layer ${layer}: send, call, api, pool, feed or api-feed`);
const feeds = layer === 'feed' || layer === 'api-feed';
if (layer === 'api-feed' && (flags.codec === 'stub' || flags.stub !== '')) throw new Error('--codec stub and --stub: api only');
const real = flags.codec === 'stub' ? undefined : codecByName(flags.codec);
const stubbed = real === undefined ? OPS : flags.stub.split(',').filter((op) => op !== '');
for (const op of stubbed) if (!OPS.includes(op)) throw new Error(`--stub ${op}: one of ${OPS.join(', ')}`);
const stub = stubCodec(real ?? codecByName('msgpack'));
/** The client's and the server's codec: the real one, the stub, or each operation the stub's where `--stub` names it. */
const sideCodec = (encodeOp, decodeOp) =>
  stubbed.length === 0
    ? real
    : stubbed.length === OPS.length
      ? stub
      : {
          name: `${real.name}, stub ${stubbed.join(' and ')}`,
          encode: stubbed.includes(encodeOp) ? stub.encode : (v) => real.encode(v),
          decode: stubbed.includes(decodeOp) ? stub.decode : (b) => real.decode(b),
        };
const clientCodec = sideCodec('client-encode', 'client-decode');
const serverCodec = sideCodec('server-encode', 'server-decode');

/** Bytes and values made once: what the api costs without a codec's work or allocations. */
function stubCodec(real) {
  const arg = real.encode(ADD_ARG);
  const sum = real.encode(ADD_ARG.a + ADD_ARG.b);
  return { name: 'stub', encode: (v) => (typeof v === 'number' ? sum : arg), decode: (b) => (b.length === arg.length ? ADD_ARG : ADD_ARG.a + ADD_ARG.b) };
}

const calculator = implement(Calculator, { add: ({ a, b }) => a + b, div: ({ a, b }) => a / b, echo: (x) => x });
const transport = tcpTransport(memoryRuntime);
const address = { host: 'memory', port: 1 };
const dispatch = feeds
  ? feedDispatch(layer === 'api-feed' ? 'api' : 'stream', serverCodec)
  : layer === 'api'
    ? createServiceDispatch({ codec: serverCodec, services: [calculator] })
    : echoRouter();
const server = new RpcServer({ dispatch });
await server.listen(transport, address);
// `pool`: a FailoverPool (round-robin) over this server and two more, as benchmarks/run.js's pool rows.
const poolAddresses = [address, { host: 'memory', port: 2 }, { host: 'memory', port: 3 }];
for (const more of poolAddresses.slice(1)) await new RpcServer({ dispatch: echoRouter() }).listen(transport, more);
const stream =
  layer === 'pool'
    ? new FailoverPool({ transport, servers: poolAddresses.map(formatAddress), pool: { stream: { window: IN_FLIGHT } } })
    : await ClientStream.connect({ transport, address, window: IN_FLIGHT });
const calc = createClient(Calculator, stream, { codec: clientCodec });
const msg = new Uint8Array(32).fill(0x5a);
const opts = {};

/** `total` calls of the layer, IN_FLIGHT at a time (the feed modes: `total` items, one stream at a time). */
function run(total) {
  if (feeds) return runFeed(total);
  return new Promise((resolve, reject) => {
    let started = 0;
    let done = 0;
    const next = (err) => {
      if (err) return reject(err);
      if (++done === total) resolve();
      else if (started < total) send();
    };
    const ok = () => next(null);
    const once =
      layer === 'send' || layer === 'pool'
        ? () => stream.send(ECHO_MSG, msg, opts, next)
        : layer === 'call'
          ? () => stream.call(ECHO_MSG, msg, opts).then(ok, next)
          : () => calc.add(ADD_ARG).then(ok, next);
    const send = () => {
      started++;
      once();
    };
    while (started < IN_FLIGHT) send();
  });
}

/** `total` items in streams of FEED_ITEMS, one after the other. */
async function runFeed(total) {
  const open = feedOpener(layer === 'api-feed' ? 'api' : 'stream', stream, clientCodec, FEED_ITEMS, FEED_SIZE);
  const onItem = () => {};
  for (let n = 0; n < total; n += FEED_ITEMS) await open(onItem);
}

await run(CALLS); // warm-up
const wall = [];
const cpu = [];
for (let r = 0; r < ROUNDS; r++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  await run(CALLS);
  const c = process.cpuUsage(c0);
  wall.push(((performance.now() - t0) * 1e6) / CALLS);
  cpu.push(((c.user + c.system) * 1e3) / CALLS);
}
const runtime = typeof Bun !== 'undefined' ? `bun ${Bun.version}` : typeof Deno !== 'undefined' ? `deno ${Deno.version.deno}` : `node ${process.versions.node}`;
const what = layer === 'api' || layer === 'api-feed' ? `${layer} ${clientCodec.name}` : layer;
const list = (xs) => xs.map((x) => x.toFixed(0)).join(', ');
console.log(`${runtime}, ${what}: ${Math.min(...wall).toFixed(0)} ns per ${feeds ? 'item' : 'call'}, ${Math.min(...cpu).toFixed(0)} ns of CPU (best of ${ROUNDS}; all: ${list(wall)} / ${list(cpu)})`);
// The in-memory connections have no close handshake: the process simply ends.
process.exit(0);
