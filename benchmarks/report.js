// Regenerates the RPC results in docs/benchmarks.md from benchmarks/results/latest.json: the
// tables and the Targets table between the `rpc-results` markers, and one SVG chart per suite
// in docs/benchmarks/. Prose outside the markers (and the Codecs section) is left alone.
// run.js calls this after every run; `node benchmarks/report.js` redoes it by hand.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { replaceBetweenMarkers } from './lib/doc-markers.js';
import { baseSuite, recordLabel } from './lib/find-record.js';
import {
  addTable,
  apiVsStreamTable,
  echoTable,
  pinnedTable,
  poolTable,
  runtimeRecords,
  runtimeTable,
  sizeLabel,
  sizeRecords,
  sizesTable,
  targetsTable,
} from './lib/rpc-tables.js';
import { suiteChart } from './lib/svg-chart.js';
import { evaluateTargets } from './lib/targets.js';

const resultsFile = new URL('./results/latest.json', import.meta.url);
const docFile = new URL('../docs/benchmarks.md', import.meta.url);
const chartDir = new URL('../docs/benchmarks/', import.meta.url);

/**
 * One chart per suite; the two one-CPU suites share one, as they share one table. A chart with
 * `pick` shows the records it picks (rows from other suites for comparison), labelled by `label`.
 */
const CHARTS = [
  { name: 'echo-32B', suites: ['echo-32B'], title: 'Echo, 32 B: C echo, raw node:net echo, Skein stream layer', unit: 'calls/s', metric: 'calls_per_s' },
  { name: 'echo-1MiB', suites: ['echo-1MiB'], title: 'Echo, 1 MiB blob: raw node:net vs Skein stream layer', unit: 'MB/s', metric: 'mb_per_s' },
  { name: 'add', suites: ['add'], title: 'Calculator add(a, b): Skein api vs the peers', unit: 'calls/s', metric: 'calls_per_s' },
  { name: '1cpu', suites: ['echo-32B-1cpu', 'add-1cpu'], title: '1 in flight, client and server on one CPU', unit: 'calls/s', metric: 'calls_per_s' },
  { name: 'ws', suites: ['ws-32B'], title: 'WebSocket echo, 32 B: one message per call (ws, uWS) vs Skein stream', unit: 'calls/s', metric: 'calls_per_s' },
  { name: 'runtimes', pick: runtimeRecords, title: 'TCP echo, 32 B, server and client on Node, Bun, Deno', unit: 'calls/s', metric: 'calls_per_s' },
  { name: 'pool', suites: ['pool-32B'], pick: poolRecords, title: 'FailoverPool over 3 servers vs one ClientStream, 32 B, 256 in flight', unit: 'calls/s', metric: 'calls_per_s' },
  { name: 'sizes', pick: sizeRecords, label: sizeLabel, title: 'Stream send() over TCP at 256 in flight, by payload size', unit: 'MB/s', metric: 'mb_per_s' },
];

function poolRecords(records) {
  const pools = records.filter((r) => baseSuite(r) === 'pool-32B');
  const direct = records.filter((r) => r.suite === 'echo-32B/send' && r.transport === 'tcp' && r.runtime === 'node' && pools.some((p) => p.in_flight === r.in_flight));
  return pools.length ? [...direct, ...pools] : [];
}

export function writeReport() {
  const results = JSON.parse(readFileSync(resultsFile, 'utf8'));
  mkdirSync(chartDir, { recursive: true });
  for (const c of CHARTS) writeFileSync(new URL(`rpc-${c.name}.svg`, chartDir), chartFor(results.records, c));
  const doc = readFileSync(docFile, 'utf8');
  const next = replaceBetweenMarkers(doc, 'rpc-results', section(results), { heading: '## RPC', beforeHeading: '## Codecs' });
  writeFileSync(docFile, next);
  console.log('updated docs/benchmarks.md and docs/benchmarks/rpc-*.svg');
}

function chartFor(records, { suites, pick, label = recordLabel, title, unit, metric }) {
  const rows = (pick ? pick(records) : records.filter((r) => suites.includes(baseSuite(r))))
    .map((r) => ({ label: label(r), throughput: r[metric], p50: r.p50_us, p99: r.p99_us }));
  return suiteChart({ title, unit, rows });
}

function section({ machine, settings, records }) {
  const m = settings.measure_s;
  const runs = settings.runs === 1 ? '1 run' : `the median of ${settings.runs} runs`;
  const rounds = settings.runs === 1 ? '' : ', made in rounds: one run of every scenario, then the next';
  return [
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, \`${machine.command}\`, finished ${machine.date.slice(0, 16).replace('T', ' ')} UTC.`,
    `Each figure is ${runs} (fresh server and client processes per run${rounds}) of ${settings.warmup_s} s warm-up and a ${m} s measuring window;`,
    `1-minute load average ${settings.loadavg_1m_start} at the start, ${settings.loadavg_1m_end} at the end; the matrix took ${settings.wall_s} s.`,
    '',
    '### Targets',
    '',
    targetsTable(evaluateTargets(records, m)),
    '',
    '### Echo, 32 B',
    '',
    echoTable(records, 'echo-32B', m),
    '',
    '![Echo, 32 B](benchmarks/rpc-echo-32B.svg)',
    '',
    '### Echo, 1 MiB blob',
    '',
    echoTable(records, 'echo-1MiB', m),
    '',
    '![Echo, 1 MiB](benchmarks/rpc-echo-1MiB.svg)',
    '',
    '### Calculator add: Skein api vs peers',
    '',
    addTable(records, m),
    '',
    '![add](benchmarks/rpc-add.svg)',
    '',
    '### api vs stream, side by side',
    '',
    apiVsStreamTable(records),
    '',
    '### 1 in flight, client and server on one CPU',
    '',
    pinnedTable(records, m),
    '',
    '![1 in flight on one CPU](benchmarks/rpc-1cpu.svg)',
    '',
    '### WebSocket, 32 B',
    '',
    echoTable(records, 'ws-32B', m),
    '',
    '![WebSocket, 32 B](benchmarks/rpc-ws.svg)',
    '',
    '### Bun and Deno, TCP, 32 B',
    '',
    runtimeTable(records, m),
    '',
    '![Bun and Deno](benchmarks/rpc-runtimes.svg)',
    '',
    '### FailoverPool over 3 servers vs one ClientStream',
    '',
    poolTable(records, m),
    '',
    '![Pool](benchmarks/rpc-pool.svg)',
    '',
    '### Server streaming: 32 B items and 1 MiB chunks, one stream',
    '',
    'One item counts as one call; p50 and p99 are the gaps between items read (lib/stream-loop.js).',
    '',
    echoTable(records, 'server-stream-32B', m),
    '',
    echoTable(records, 'server-stream-1MiB', m),
    '',
    '### Stream payload sizes, TCP, 256 in flight',
    '',
    sizesTable(records, m),
    '',
    '![Payload sizes](benchmarks/rpc-sizes.svg)',
  ].join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeReport();
