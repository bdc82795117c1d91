import { findRecord, recordLabel } from './find-record.js';

/**
 * The project's speed targets, each a ratio of two records of the same run (so machine and
 * load cancel out as far as they can). A target whose records were not run is "not measured".
 */
const TCP = { transport: 'tcp' };
const raw32 = (n, suite = 'echo-32B') => ({ suite, system: 'raw', ...TCP, in_flight: n });
const stream32 = (path, n, suite = 'echo-32B') => ({ suite: `${suite}/${path}`, ...TCP, in_flight: n });
const rawBlob = (n) => ({ suite: 'echo-1MiB', system: 'raw', ...TCP, in_flight: n });
const streamBlob = (n) => ({ suite: 'echo-1MiB/send', ...TCP, in_flight: n });
// Plaintext unless said: the TLS rows share these suites (one transport per record).
const api = (codec, n, suite = 'add') => ({ suite, system: 'skein', codec, ...TCP, in_flight: n });
const peer = (system, n, transport = system === 'grpc-js' ? 'http2' : 'tcp') => ({ suite: 'add', system, transport, in_flight: n });

const targets = [
  ...['send', 'call'].map((path) => ({
    goal: `stream ${path}(), 256 in flight, 32 B ≥ 25 % of raw echo calls/s`,
    of: stream32(path, 256), over: raw32(256), metric: 'calls_per_s', min: 0.25,
  })),
  ...['send', 'call'].map((path) => ({
    goal: `stream ${path}(), 1 in flight ≥ 85 % of raw echo calls/s`,
    of: stream32(path, 1), over: raw32(1), metric: 'calls_per_s', min: 0.85,
  })),
  ...[1, 256].map((n) => ({
    goal: `stream, 1 MiB blobs, ${n} in flight ≥ 70 % of raw echo MB/s`,
    of: streamBlob(n), over: rawBlob(n), metric: 'mb_per_s', min: 0.7,
  })),
  ...['msgpack', 'cbor'].flatMap((codec) => [
    { goal: `api (${codec}), 256 in flight ≥ 10× moleculer`, of: api(codec, 256), over: peer('moleculer', 256), metric: 'calls_per_s', min: 10 },
    { goal: `api (${codec}), 256 in flight ≥ 100× grpc-js`, of: api(codec, 256), over: peer('grpc-js', 256), metric: 'calls_per_s', min: 100 },
  ]),
  ...['msgpack', 'cbor'].map((codec) => ({
    goal: `api (${codec}), 1 in flight ≥ 0.85× raw echo`, of: api(codec, 1), over: raw32(1), metric: 'calls_per_s', min: 0.85,
  })),
  // The in-flight-1 targets again with client and server on one CPU: the code's own cost,
  // without the VM's cross-CPU wake-up in every round trip (see scenarios.js).
  ...['send', 'call'].map((path) => ({
    goal: `stream ${path}(), 1 in flight, one CPU ≥ 85 % of raw echo calls/s`,
    of: stream32(path, 1, 'echo-32B-1cpu'), over: raw32(1, 'echo-32B-1cpu'), metric: 'calls_per_s', min: 0.85,
  })),
  {
    goal: 'api (msgpack), 1 in flight, one CPU ≥ 0.95× raw echo',
    of: api('msgpack', 1, 'add-1cpu'), over: raw32(1, 'echo-32B-1cpu'), metric: 'calls_per_s', min: 0.95,
  },
  // Issue 19: the typed layer at the stream's speed, in calls and in CPU per call.
  ...['msgpack', 'cbor'].map((codec) => ({
    goal: `api add() (${codec}), 256 in flight ≥ 80 % of stream send()`,
    of: api(codec, 256), over: stream32('send', 256), metric: 'calls_per_s', min: 0.8,
  })),
  ...['msgpack', 'cbor'].map((codec) => ({
    goal: `api add() (${codec}), 256 in flight: client + server CPU ≤ 2 µs per call`,
    of: api(codec, 256), metric: 'cpu_us_per_call', max: 2,
  })),
  {
    goal: 'stream send() over WebSocket (ws server), 256 in flight ≥ 70 % of TCP',
    of: { suite: 'ws-32B/send', transport: 'ws', in_flight: 256 },
    over: { ...stream32('send', 256), runtime: 'node' },
    metric: 'calls_per_s', min: 0.7,
  },
  {
    goal: 'stream send() on Deno (server and client), TCP, 256 in flight ≥ 0.95× Node',
    of: { suite: 'runtime-32B/send', runtime: 'deno', ...TCP, in_flight: 256 },
    over: { ...stream32('send', 256), runtime: 'node' },
    metric: 'calls_per_s', min: 0.95,
  },
  {
    goal: 'stream send() over WebSocket, uWS server, 256 in flight ≥ 3× the uWS one-message-per-call echo',
    of: { suite: 'ws-32B/send', transport: 'ws-uws', in_flight: 256 },
    over: { suite: 'ws-32B', system: 'raw', transport: 'ws-uws', in_flight: 256 },
    metric: 'calls_per_s', min: 3,
  },
  {
    goal: 'stream send() on Bun (server and client), TCP, 256 in flight ≥ 1× Node',
    of: { suite: 'runtime-32B/send', runtime: 'bun', ...TCP, in_flight: 256 },
    over: { ...stream32('send', 256), runtime: 'node' },
    metric: 'calls_per_s', min: 1,
  },
  // Issue 15: one server stream (lib/feed.js), stream layer and typed api alike.
  ...['stream', 'api'].flatMap((layer) => [
    {
      goal: `${layer} server stream, 32 B items: items/s ≥ stream send() calls/s, 256 in flight`,
      of: { suite: 'server-stream-32B/feed', system: 'skein', layer, ...TCP },
      over: { ...stream32('send', 256), runtime: 'node' },
      metric: 'calls_per_s', min: 1,
    },
    {
      goal: `${layer} server stream, 1 MiB chunks ≥ 80 % of raw echo MB/s (1 MiB, 256 in flight)`,
      of: { suite: 'server-stream-1MiB/feed', system: 'skein', layer, ...TCP },
      over: rawBlob(256),
      metric: 'mb_per_s', min: 0.8,
    },
  ]),
  // Issue 14: what encryption costs, against plaintext in the same run.
  {
    goal: 'stream send() over TLS, 256 in flight ≥ 60 % of plaintext TCP',
    of: { suite: 'echo-32B/send', transport: 'tls', in_flight: 256 },
    over: { ...stream32('send', 256), runtime: 'node' },
    metric: 'calls_per_s', min: 0.6,
  },
  {
    goal: 'FailoverPool send() over 3 servers, 256 in flight ≥ 90 % of one ClientStream',
    of: { suite: 'pool-32B/send', ...TCP, in_flight: 256 },
    over: { ...stream32('send', 256), runtime: 'node' },
    metric: 'calls_per_s', min: 0.9,
  },
];

/**
 * Runs of one record further apart than this (max ÷ min) make a verdict a matter of luck: on
 * this VM, 1 in flight lands either with both processes on one vCPU or on two, ~3× apart.
 */
const UNSTABLE_SPREAD = 1.5;
const spreadOf = (r) => Math.max(...r.runs) / Math.min(...r.runs);

/**
 * Each target with its two measured figures, the ratio, whether it held, and whether that is
 * luck. A target with `max` bounds one record's client + server CPU time per call (µs) instead.
 */
export function evaluateTargets(records, measureS) {
  return targets.map((t) => {
    const of = findRecord(records, t.of);
    if (t.max !== undefined) return of ? cpuTarget(t, of, measureS) : { ...t, status: 'not measured' };
    const over = findRecord(records, t.over);
    if (!of || !over) return { ...t, status: 'not measured' };
    const ratio = of[t.metric] / over[t.metric];
    const unstable = Math.max(spreadOf(of), spreadOf(over)) > UNSTABLE_SPREAD;
    return { ...t, ofRecord: of, overRecord: over, ratio, unstable, status: ratio >= t.min ? 'held' : 'missed', label: `${recordLabel(of)} ÷ ${recordLabel(over)}` };
  });
}

/** Client + server CPU time per call of one record, against a ceiling in µs. */
function cpuTarget(t, of, measureS) {
  const calls = of.calls_per_s * measureS;
  const clientUs = (of.client_cpu_s * 1e6) / calls;
  const serverUs = (of.server_cpu_s * 1e6) / calls;
  const value = clientUs + serverUs;
  return { ...t, ofRecord: of, clientUs, serverUs, value, unstable: spreadOf(of) > UNSTABLE_SPREAD, status: value <= t.max ? 'held' : 'missed', label: recordLabel(of) };
}
