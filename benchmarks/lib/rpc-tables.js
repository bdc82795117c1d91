import { baseSuite, findRecord, isPinned, recordLabel } from './find-record.js';
import { fixed, int, percent, spread, times } from './format.js';
import { markdownTable } from './markdown-table.js';

/**
 * The markdown tables of the RPC results, one per suite plus the api-vs-stream comparison. The
 * server columns are per measuring window: CPU as a share of one core, and per call.
 */
const inSuite = (records, suite) => records.filter((r) => baseSuite(r) === suite);

function serverCells(r, measureS) {
  const perCall = (r.server_cpu_s * 1e6) / (r.calls_per_s * measureS);
  return [percent(r.server_cpu_s / measureS), fixed(perCall, perCall < 10 ? 2 : 1), fixed(r.server_rss_mb, 0)];
}

const SERVER_HEADER = ['server CPU (of a core)', 'server CPU µs/call', 'server RSS MB'];

export function echoTable(records, suite, measureS) {
  const rows = inSuite(records, suite).map((r) => {
    const raw = findRecord(records, { suite, system: 'raw', transport: r.transport, in_flight: r.in_flight });
    const metric = suite === 'echo-1MiB' ? 'mb_per_s' : 'calls_per_s';
    return [
      recordLabel(r),
      int(r.calls_per_s),
      spread(r.runs),
      fixed(r.mb_per_s, 1),
      fixed(r.p50_us),
      fixed(r.p99_us),
      ...serverCells(r, measureS),
      raw && r.system !== 'raw' ? percent(r[metric] / raw[metric]) : '',
    ];
  });
  const header = ['scenario', 'calls/s', 'runs (min–max)', 'MB/s', 'p50 µs', 'p99 µs', ...SERVER_HEADER, `of raw ${suite === 'echo-1MiB' ? 'MB/s' : 'calls/s'}`];
  return markdownTable(header, rows);
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
      ...serverCells(r, measureS),
      skein && r.system !== 'skein' ? times(skein.calls_per_s / r.calls_per_s) : '',
    ];
  });
  const header = ['scenario', 'codec', 'arg bytes', 'calls/s', 'runs (min–max)', 'p50 µs', 'p99 µs', ...SERVER_HEADER, 'api (msgpack) ÷ this'];
  return markdownTable(header, rows, 2);
}

/** In flight 1 with client and server on one CPU: every scenario against the pinned raw echo. */
export function pinnedTable(records, measureS) {
  const raw = findRecord(records, { suite: 'echo-32B-1cpu', system: 'raw' });
  const rows = records.filter(isPinned).map((r) => [
    recordLabel(r),
    int(r.calls_per_s),
    spread(r.runs),
    fixed(r.p50_us),
    fixed(r.p99_us),
    ...serverCells(r, measureS),
    raw && r !== raw ? percent(r.calls_per_s / raw.calls_per_s) : '',
  ]);
  return markdownTable(['scenario', 'calls/s', 'runs (min–max)', 'p50 µs', 'p99 µs', ...SERVER_HEADER, 'of raw calls/s'], rows);
}

/** What the typed layer costs over the bytes layer it sits on, at the same depth. */
export function apiVsStreamTable(records) {
  const rows = [1, 256].flatMap((n) => {
    const send = findRecord(records, { suite: 'echo-32B/send', transport: 'tcp', in_flight: n });
    const call = findRecord(records, { suite: 'echo-32B/call', transport: 'tcp', in_flight: n });
    const raw = findRecord(records, { suite: 'echo-32B', system: 'raw', transport: 'tcp', in_flight: n });
    return ['msgpack', 'cbor'].flatMap((codec) => {
      const api = findRecord(records, { suite: 'add', system: 'skein', codec, in_flight: n });
      if (!api || !send) return [];
      const cell = (r) => (r ? `${int(r.calls_per_s)} (p50 ${fixed(r.p50_us)} µs)` : '–');
      return [[`${n}`, codec, cell(raw), cell(send), cell(call), cell(api), percent(api.calls_per_s / send.calls_per_s), call ? percent(api.calls_per_s / call.calls_per_s) : '–']];
    });
  });
  const header = ['in flight', 'api codec', 'raw echo', 'stream send()', 'stream call()', 'api add()', 'api ÷ send()', 'api ÷ call()'];
  return markdownTable(header, rows, 2);
}

export function targetsTable(evaluated) {
  const rows = evaluated.map((t) =>
    t.status === 'not measured'
      ? [t.goal, '–', '–', '–', 'not measured']
      : [t.goal, t.label, `${figure(t.ofRecord, t.metric)} ÷ ${figure(t.overRecord, t.metric)}`, t.min >= 10 ? times(t.ratio) : percentOrTimes(t), verdict(t)],
  );
  return markdownTable(['target', 'compared', 'figures', 'measured', 'verdict'], rows, 2);
}

const verdict = (t) => `**${t.status}**${t.unstable ? ' (unstable: runs vary > 1.5×)' : ''}`;
const figure = (r, metric) => (metric === 'mb_per_s' ? `${fixed(r.mb_per_s, 0)} MB/s` : `${int(r.calls_per_s)} calls/s`);
// One decimal: a ratio just under its threshold must not print as the threshold.
const percentOrTimes = (t) => (t.goal.includes('%') ? `${(t.ratio * 100).toFixed(1)} %` : `${t.ratio.toFixed(3)}×`);
