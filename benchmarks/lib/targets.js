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
const api = (codec, n, suite = 'add') => ({ suite, system: 'skein', codec, in_flight: n });
const peer = (system, n) => ({ suite: 'add', system, in_flight: n });

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
    goal: 'api (msgpack), 1 in flight, one CPU ≥ 0.85× raw echo',
    of: api('msgpack', 1, 'add-1cpu'), over: raw32(1, 'echo-32B-1cpu'), metric: 'calls_per_s', min: 0.85,
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

/** Each target with its two measured figures, the ratio, whether it held, and whether that is luck. */
export function evaluateTargets(records) {
  return targets.map((t) => {
    const of = findRecord(records, t.of);
    const over = findRecord(records, t.over);
    if (!of || !over) return { ...t, status: 'not measured' };
    const ratio = of[t.metric] / over[t.metric];
    const unstable = Math.max(spreadOf(of), spreadOf(over)) > UNSTABLE_SPREAD;
    return { ...t, ofRecord: of, overRecord: over, ratio, unstable, status: ratio >= t.min ? 'held' : 'missed', label: `${recordLabel(of)} ÷ ${recordLabel(over)}` };
  });
}
