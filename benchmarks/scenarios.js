/**
 * The RPC benchmark matrix. Every scenario is one closed-loop client against one server, each
 * in its own process. `suite` groups what is compared in one table and chart; for Skein's
 * stream layer it also names the call path (`send`: callback, `call`: promise).
 *
 * The `-1cpu` suites run client and server pinned to the same CPU. At 1 in flight on a VM,
 * each round trip otherwise pays for waking the peer's idle vCPU, which can cost more than
 * the code itself; on one CPU a round trip is two context switches and the code's own cost.
 */
const KiB = 1024;
const MiB = 1024 * KiB;

const SUITE = { echo: 'echo-32B', blob: 'echo-1MiB', add: 'add', ws: 'ws-32B', runtime: 'runtime-32B', pool: 'pool-32B', sizes: 'sizes' };
const PINNED = '-1cpu';

/** In flight for the deep 1 MiB runs: the same depth as the 32 B ones, so the two compare. */
const BLOB_IN_FLIGHT = 256;

const raw = (transport, payloadBytes, inFlight) => ({
  suite: payloadBytes === 32 ? SUITE.echo : SUITE.blob,
  system: 'raw',
  layer: 'raw',
  transport,
  codec: 'none',
  payloadBytes,
  inFlight,
});

const stream = (path, transport, blobBytes, inFlight) => ({
  suite: `${blobBytes ? SUITE.blob : SUITE.echo}/${path}`,
  system: 'skein',
  layer: 'stream',
  path,
  transport,
  codec: 'none',
  payloadBytes: 32,
  blobBytes,
  inFlight,
});

/**
 * WebSocket: `ws` is the `ws` server, `ws-uws` the uWebSockets.js one (Node only); the client is
 * always a `ws` client. The raw WS echo is one binary message per call (servers/raw-ws.js).
 */
const ws = (s) => ({ ...s, suite: s.suite.replace(SUITE.echo, SUITE.ws), ...(s.layer === 'raw' ? { script: 'raw-ws' } : {}) });

/**
 * The same scenario with server and client both on Bun or Deno. The raw echo there is
 * servers/raw.js and clients/raw.js as they are, on the runtime's `node:net` compatibility.
 */
const onRuntime = (runtime, s) => ({ ...s, suite: s.suite.replace(SUITE.echo, SUITE.runtime), runtime });

/** A FailoverPool over three local stream servers (three processes), `send()` path. */
const pool = (inFlight) => ({ ...stream('send', 'tcp', 0, inFlight), suite: `${SUITE.pool}/send`, layer: 'pool', servers: 3 });

/**
 * The same pool with the opt-in `strategy: 'round-robin-by-turn'` (a turn's calls on one
 * server, the next turn's on the next): beside the default, never in place of it.
 */
const poolByTurn = (inFlight) => ({ ...pool(inFlight), suite: `${SUITE.pool}/send-by-turn`, strategy: 'round-robin-by-turn' });

/** The stream echo with a message of `bytes` instead of 32 B (the 1 MiB case is echo-1MiB). */
const sized = (bytes, inFlight) => ({ ...stream('send', 'tcp', 0, inFlight), suite: `${SUITE.sizes}/send`, payloadBytes: bytes });

/** The same scenario with both processes on CPU 0. */
const pinned = (s) => {
  const [base, path] = s.suite.split('/');
  return { ...s, suite: [base + PINNED, path].filter(Boolean).join('/'), cpu: 0 };
};

const api = (codec, inFlight, transport = 'tcp') => ({ suite: SUITE.add, system: 'skein', layer: 'api', transport, codec, inFlight });
const peer = (system, codec, inFlight, transport) => ({ suite: SUITE.add, system, layer: 'api', transport, codec, inFlight });

/**
 * The peers users would pick instead of Skein, each set up as its docs recommend for speed (see
 * docs/benchmarks.md): system, codec, transport. NATS goes through a nats-server the benchmark
 * starts; its CPU and RSS count as the server's.
 */
const PEERS = [
  ['moleculer', 'json', 'tcp'],
  ['grpc-js', 'protobuf', 'http2'],
  ['trpc', 'json', 'ws'],
  ['connect', 'protobuf', 'http2'],
  ['capnweb', 'json', 'ws'],
  ['avsc', 'avro', 'tcp'],
  ['nats', 'json', 'tcp'],
];

/**
 * The wire's limit: the raw echo's framing (u32-LE length + payload) with a C client and server
 * (benchmarks/c/, built with the machine's gcc when first run), one read and one write per batch.
 */
const cEcho = (inFlight) => ({ ...raw('tcp', 32, inFlight), system: 'c', layer: 'c', runtime: 'c' });

/**
 * Server streaming (lib/feed.js): one stream at a time of `size`-byte items (32 B, or 1 MiB
 * chunks), the next opened when it ends; one item counts as one call. Skein on the stream layer
 * (`openStream`) and the typed api (`serverStream`, msgpack); grpc-js and Connect-ES with their
 * own server streams over HTTP/2. Each system's `<system>-feed` scripts.
 */
const FEED_SUITE = { 32: 'server-stream-32B', [MiB]: 'server-stream-1MiB' };
const feed = (system, layer, codec, transport, size) => ({
  suite: `${FEED_SUITE[size]}/feed`,
  system,
  layer,
  path: 'feed',
  transport,
  codec,
  payloadBytes: size,
  inFlight: 1,
  script: `${system}-feed`,
});
const FEEDS = [
  ['skein', 'stream', 'none', 'tcp'],
  ['skein', 'api', 'msgpack', 'tcp'],
  ['grpc-js', 'api', 'protobuf', 'http2'],
  ['connect', 'api', 'protobuf', 'http2'],
];

/** Marks a scenario as part of the quick matrix too. */
const q = (s) => ({ ...s, quick: true });

function all() {
  return [
    q(raw('tcp', 32, 1)),
    q(raw('tcp', 32, 256)),
    q(raw('unix', 32, 256)),
    q(cEcho(1)),
    q(cEcho(256)),
    q(stream('send', 'tcp', 0, 1)),
    q(stream('send', 'tcp', 0, 256)),
    stream('call', 'tcp', 0, 1),
    stream('call', 'tcp', 0, 256),
    q(stream('send', 'unix', 0, 256)),
    // TLS over TCP against plaintext at the same depth (target: >= 60 % of plaintext calls/s).
    q(stream('send', 'tls', 0, 256)),
    q(api('msgpack', 256, 'tls')),
    q(peer('grpc-js', 'protobuf', 256, 'http2-tls')),
    raw('tcp', MiB, 1),
    q(raw('tcp', MiB, BLOB_IN_FLIGHT)),
    stream('send', 'tcp', MiB, 1),
    q(stream('send', 'tcp', MiB, BLOB_IN_FLIGHT)),
    q(api('msgpack', 1)),
    q(api('msgpack', 256)),
    api('cbor', 1),
    q(api('cbor', 256)),
    ...PEERS.flatMap(([system, codec, transport]) => [peer(system, codec, 1, transport), q(peer(system, codec, 256, transport))]),
    q(pinned(raw('tcp', 32, 1))),
    q(pinned(cEcho(1))),
    q(pinned(stream('send', 'tcp', 0, 1))),
    pinned(stream('call', 'tcp', 0, 1)),
    q(pinned(api('msgpack', 1))),
    q(ws(raw('ws', 32, 256))),
    q(ws(raw('ws-uws', 32, 256))),
    ws(raw('ws', 32, 1)),
    ws(raw('ws-uws', 32, 1)),
    q(ws(stream('send', 'ws', 0, 256))),
    q(ws(stream('send', 'ws-uws', 0, 256))),
    ws(stream('send', 'ws', 0, 1)),
    ws(stream('send', 'ws-uws', 0, 1)),
    ...['bun', 'deno'].flatMap((rt) => [
      q(onRuntime(rt, stream('send', 'tcp', 0, 256))),
      onRuntime(rt, stream('send', 'tcp', 0, 1)),
      onRuntime(rt, raw('tcp', 32, 256)),
      // The runtime's own client and server over ws (Bun's standard WebSocket client; Deno's is ws).
      q(ws(onRuntime(rt, stream('send', 'ws', 0, 256)))),
    ]),
    q(pool(256)),
    q(poolByTurn(256)),
    q(pool(1)),
    sized(10, 256),
    sized(KiB, 256),
    sized(64 * KiB, 256),
    // Issue 15: items/s against stream send() tcp 32B @256; MB/s against raw tcp 1MiB (above).
    ...[32, MiB].flatMap((size) => FEEDS.map(([system, layer, codec, transport]) => q(feed(system, layer, codec, transport, size)))),
  ];
}

/** `skein/stream/send tcp 32B @256`: what `--only` matches against. */
export function scenarioName(s) {
  const what = [s.system, s.layer === s.system ? null : s.layer, s.path].filter(Boolean).join('/') + (s.strategy ? ` ${s.strategy}` : '');
  const size = s.payloadBytes ? ` ${formatSize(s.payloadBytes + (s.blobBytes ?? 0))}` : '';
  const codec = s.codec === 'none' ? '' : ` ${s.codec}`;
  const runtime = s.runtime && s.runtime !== 'node' && s.runtime !== s.system ? ` ${s.runtime}` : '';
  return `${what} ${s.transport}${codec}${size} @${s.inFlight}${s.cpu === undefined ? '' : ' 1cpu'}${runtime}`;
}

const formatSize = (n) => (n >= MiB ? `${Math.round(n / MiB)}MiB` : n >= KiB && n % KiB === 0 ? `${n / KiB}KiB` : `${n}B`);

export function matrix({ quick: isQuick, only }) {
  const chosen = all()
    .filter((s) => !isQuick || s.quick)
    .map(({ quick, ...s }) => ({ runtime: 'node', ...s, name: scenarioName(s) }));
  if (!only) return chosen;
  // `--only "trpc,nats/api tcp json @1"`: every scenario whose name contains any of the parts;
  // a part ending in `$` must end the name (`stream/send tcp 32B @256$` leaves out `… bun`).
  const parts = only.split(',').map((p) => p.trim()).filter(Boolean);
  const matches = (name, p) => (p.endsWith('$') ? name.endsWith(p.slice(0, -1)) : name.includes(p));
  return chosen.filter((s) => parts.some((p) => matches(s.name, p)));
}
