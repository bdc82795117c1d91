import { baseSuite, findRecord, isPinned, recordLabel } from './find-record.js';
import { fixed, int, percent, spread, times } from './format.js';
import { markdownTable } from './markdown-table.js';

/**
 * The markdown tables of the RPC results, one per suite plus the api-vs-stream comparison. The
 * CPU columns are per measuring window: the server's as a share of one core, then the server's
 * and the client's CPU time per call, and calls/s per core the two used together (calls/s ÷
 * (client + server CPU time ÷ window)): what a call costs, whatever the machine left idle.
 */
const inSuite = (records, suite) => records.filter((r) => baseSuite(r) === suite);

const perCall = (cpuS, r, measureS) => (cpuS * 1e6) / (r.calls_per_s * measureS);
const micros = (us) => fixed(us, us < 10 ? 2 : 1);

function cpuCells(r, measureS) {
  const coresUsed = (r.server_cpu_s + r.client_cpu_s) / measureS;
  return [
    percent(r.server_cpu_s / measureS),
    micros(perCall(r.server_cpu_s, r, measureS)),
    micros(perCall(r.client_cpu_s, r, measureS)),
    int(r.calls_per_s / coresUsed),
    fixed(r.server_rss_mb, 0),
  ];
}

const CPU_HEADER = ['server CPU (of a core)', 'server CPU µs/call', 'client CPU µs/call', 'calls/s per core', 'server RSS MB'];

/** The C echo of the same framing at the same depth (and pinning): the wire's limit. */
const cEchoFor = (records, r) => findRecord(records, { suite: r.suite.split('/')[0], system: 'c', transport: r.transport, in_flight: r.in_flight });
const shareOfC = (records, r) => {
  const c = r.runtime === 'node' && r.system !== 'c' ? cEchoFor(records, r) : undefined;
  return c ? percent(r.calls_per_s / c.calls_per_s) : '';
};

export function echoTable(records, suite, measureS) {
  const withC = inSuite(records, suite).some((r) => r.system === 'c');
  const rows = inSuite(records, suite).map((r) => {
    const raw = findRecord(records, { suite, system: 'raw', transport: r.transport, runtime: r.runtime, in_flight: r.in_flight });
    const metric = suite === 'echo-1MiB' ? 'mb_per_s' : 'calls_per_s';
    return [
      recordLabel(r),
      int(r.calls_per_s),
      spread(r.runs),
      fixed(r.mb_per_s, 1),
      fixed(r.p50_us),
      fixed(r.p99_us),
      ...cpuCells(r, measureS),
      raw && r.system !== 'raw' && r.system !== 'c' ? percent(r[metric] / raw[metric]) : '',
      ...(withC ? [shareOfC(records, r)] : []),
    ];
  });
  const header = ['scenario', 'calls/s', 'runs (min–max)', 'MB/s', 'p50 µs', 'p99 µs', ...CPU_HEADER, `of raw ${suite === 'echo-1MiB' ? 'MB/s' : 'calls/s'}`];
  return markdownTable(withC ? [...header, 'of C echo calls/s'] : header, rows);
}

export function addTable(records, measureS) {
  const rows = inSuite(records, 'add').map((r) => {
    const skein = findRecord(records, { suite: 'add', system: 'skein', codec: 'msgpack', in_flight: r.in_flight });
    return [
      recordLabel(r),
      r.codec,
      `${r.payload_bytes}`,
      int(r.calls_per_s),
      spread(r.runs),
      fixed(r.p50_us),
      fixed(r.p99_us),
      ...cpuCells(r, measureS),
      skein && r.system !== 'skein' ? times(skein.calls_per_s / r.calls_per_s) : '',
    ];
  });
  const header = ['scenario', 'codec', 'arg bytes', 'calls/s', 'runs (min–max)', 'p50 µs', 'p99 µs', ...CPU_HEADER, 'api (msgpack) ÷ this'];
  return markdownTable(header, rows, 2);
}

/** In flight 1 with client and server on one CPU: every scenario against the pinned raw echo. */
export function pinnedTable(records, measureS) {
  const raw = findRecord(records, { suite: 'echo-32B-1cpu', system: 'raw' });
  const c = findRecord(records, { suite: 'echo-32B-1cpu', system: 'c' });
  const rows = records.filter(isPinned).map((r) => [
    recordLabel(r),
    int(r.calls_per_s),
    spread(r.runs),
    fixed(r.p50_us),
    fixed(r.p99_us),
    ...cpuCells(r, measureS),
    raw && r !== raw && r !== c ? percent(r.calls_per_s / raw.calls_per_s) : '',
    c && r !== c ? percent(r.calls_per_s / c.calls_per_s) : '',
  ]);
  return markdownTable(['scenario', 'calls/s', 'runs (min–max)', 'p50 µs', 'p99 µs', ...CPU_HEADER, 'of raw calls/s', 'of C echo calls/s'], rows);
}

/** The 32 B TCP echo on each runtime: Bun's and Deno's rows next to Node's, and ÷ Node's. */
export function runtimeTable(records, measureS) {
  const rows = runtimeRecords(records).map((r) => {
    const nodeSuite = r.suite.replace('runtime-32B', r.transport === 'ws' ? 'ws-32B' : 'echo-32B');
    const node = findRecord(records, { suite: nodeSuite, system: r.system, transport: r.transport, runtime: 'node', in_flight: r.in_flight });
    return [recordLabel(r), int(r.calls_per_s), spread(r.runs), fixed(r.p50_us), fixed(r.p99_us), ...cpuCells(r, measureS), node && r !== node ? times(r.calls_per_s / node.calls_per_s) : ''];
  });
  return markdownTable(['scenario', 'calls/s', 'runs (min–max)', 'p50 µs', 'p99 µs', ...CPU_HEADER, '÷ Node'], rows);
}

/** Node's TCP (and ws) echo records that the Bun and Deno ones compare with, then theirs. */
export function runtimeRecords(records) {
  const others = records.filter((r) => baseSuite(r) === 'runtime-32B');
  const node = records.filter(
    (r) =>
      r.runtime === 'node' &&
      ((baseSuite(r) === 'echo-32B' && r.transport === 'tcp' && (r.system === 'raw' ? r.in_flight === 256 : r.suite === 'echo-32B/send')) ||
        (r.suite === 'ws-32B/send' && r.transport === 'ws' && r.in_flight === 256)),
  );
  return others.length ? [...node, ...others] : [];
}

/** The FailoverPool over three servers against one ClientStream to one server, at the same depth. */
export function poolTable(records, measureS) {
  const pools = records.filter((r) => baseSuite(r) === 'pool-32B');
  const rows = pools.flatMap((p) => {
    const direct = findRecord(records, { suite: 'echo-32B/send', transport: 'tcp', runtime: 'node', in_flight: p.in_flight });
    return [direct, p].filter(Boolean).map((r) => [
      r === p ? `${recordLabel(r)}, 3 servers` : `${recordLabel(r)}, 1 server`,
      int(r.calls_per_s),
      spread(r.runs),
      fixed(r.p50_us),
      fixed(r.p99_us),
      ...cpuCells(r, measureS),
      r === p && direct ? percent(p.calls_per_s / direct.calls_per_s) : '',
    ]);
  });
  const header = ['servers CPU (of a core, summed)', 'servers CPU µs/call', 'client CPU µs/call', 'calls/s per core', 'servers RSS MB (summed)'];
  return markdownTable(['scenario', 'calls/s', 'runs (min–max)', 'p50 µs', 'p99 µs', ...header, 'of stream calls/s'], rows);
}

/** Stream send() over TCP at 256 in flight by message size, with the 32 B and 1 MiB-blob rows. */
export function sizeRecords(records) {
  const at = (suite) => records.filter((r) => r.suite === suite && r.transport === 'tcp' && r.runtime === 'node' && r.in_flight === 256);
  const sized = at('sizes/send');
  if (sized.length === 0) return [];
  return [...sized, ...at('echo-32B/send'), ...at('echo-1MiB/send')].sort((a, b) => a.payload_bytes - b.payload_bytes);
}

export const sizeLabel = (r) => (r.suite.startsWith('echo-1MiB') ? `32 B + ${formatBytes(r.payload_bytes - 32)} blob` : formatBytes(r.payload_bytes));

export function sizesTable(records, measureS) {
  const rows = sizeRecords(records).map((r) => [sizeLabel(r), int(r.calls_per_s), spread(r.runs), fixed(r.mb_per_s, 1), fixed(r.p50_us), fixed(r.p99_us), ...cpuCells(r, measureS)]);
  return markdownTable(['payload (stream send() tcp @256)', 'calls/s', 'runs (min–max)', 'MB/s', 'p50 µs', 'p99 µs', ...CPU_HEADER], rows);
}

const formatBytes = (n) => (n >= 2 ** 20 ? `${fixed(n / 2 ** 20, n % 2 ** 20 ? 2 : 0)} MiB` : n >= 1024 ? `${fixed(n / 1024, n % 1024 ? 2 : 0)} KiB` : `${n} B`);

/** What the typed layer costs over the bytes layer it sits on, at the same depth. */
export function apiVsStreamTable(records) {
  const rows = [1, 256].flatMap((n) => {
    // Every row over plain TCP on Node (the C echo's runtime is its own): the matrix also has TLS,
    // Unix, Bun and Deno rows of these suites, and the first record found would be whichever the
    // matrix lists first (the api's TLS row, before this).
    const on = { transport: 'tcp', runtime: 'node', in_flight: n };
    const send = findRecord(records, { suite: 'echo-32B/send', ...on });
    const call = findRecord(records, { suite: 'echo-32B/call', ...on });
    const raw = findRecord(records, { suite: 'echo-32B', system: 'raw', ...on });
    const c = findRecord(records, { suite: 'echo-32B', system: 'c', transport: 'tcp', in_flight: n });
    return ['msgpack', 'cbor'].flatMap((codec) => {
      const api = findRecord(records, { suite: 'add', system: 'skein', codec, ...on });
      if (!api || !send) return [];
      const cell = (r) => (r ? `${int(r.calls_per_s)} (p50 ${fixed(r.p50_us)} µs)` : '–');
      const ratio = (r) => (r ? percent(api.calls_per_s / r.calls_per_s) : '–');
      return [[`${n}`, codec, cell(c), cell(raw), cell(send), cell(call), cell(api), ratio(send), ratio(call), ratio(c)]];
    });
  });
  const header = ['in flight', 'api codec', 'C echo', 'raw echo', 'stream send()', 'stream call()', 'api add()', 'api ÷ send()', 'api ÷ call()', 'api ÷ C echo'];
  return markdownTable(header, rows, 2);
}

export function targetsTable(evaluated) {
  const rows = evaluated.map((t) => {
    if (t.status === 'not measured') return [t.goal, '–', '–', '–', 'not measured'];
    if (t.max !== undefined) return [t.goal, t.label, `client ${micros(t.clientUs)} + server ${micros(t.serverUs)} µs`, `${micros(t.value)} µs`, verdict(t)];
    return [t.goal, t.label, `${figure(t.ofRecord, t.metric)} ÷ ${figure(t.overRecord, t.metric)}`, t.min >= 10 ? times(t.ratio) : percentOrTimes(t), verdict(t)];
  });
  return markdownTable(['target', 'compared', 'figures', 'measured', 'verdict'], rows, 2);
}

const verdict = (t) => `**${t.status}**${t.unstable ? ' (unstable: runs vary > 1.5×)' : ''}`;
const figure = (r, metric) => (metric === 'mb_per_s' ? `${fixed(r.mb_per_s, 0)} MB/s` : `${int(r.calls_per_s)} calls/s`);
// One decimal: a ratio just under its threshold must not print as the threshold.
const percentOrTimes = (t) => (t.goal.includes('%') ? `${(t.ratio * 100).toFixed(1)} %` : `${t.ratio.toFixed(3)}×`);
