import { readFileSync, writeFileSync } from 'node:fs';
import { replaceBetweenMarkers } from './doc-markers.js';
import { fixed, int, percent } from './format.js';
import { markdownTable } from './markdown-table.js';

const docFile = new URL('../../docs/benchmarks.md', import.meta.url);

/** The target of issue 19: an idle Skein connection costs at most 1.2× a bare node:net one. */
const IDLE_RATIO_MAX = 1.2;
/** Flat: no RSS reading through the flood further than this from the first. */
const FLOOD_DRIFT_MAX = 0.1;

/** Regenerates the `memory-results` block of docs/benchmarks.md from one memory.js run. */
export function writeMemoryReport({ machine, connections, calls, flood_seconds: seconds, idle, flood }) {
  const raw = idle.find((r) => r.system === 'raw');
  const skein = idle.find((r) => r.system === 'skein');
  const lines = [
    `${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, \`${machine.command}\`, ${machine.date.slice(0, 16).replace('T', ' ')} UTC.`,
    '',
    `Idle connections: server RSS after a GC, before and with ${int(connections)} connections open (${calls === 0 ? 'none has carried a call' : calls === 1 ? 'each has carried one 32 B echo call' : `each has carried ${calls} 32 B echo calls`}).`,
    '',
    markdownTable(
      ['server', 'RSS before MB', 'RSS with connections MB', 'bytes per connection', 'of bare node:net'],
      idle.map((r) => [r.system === 'raw' ? 'bare node:net echo' : 'Skein RpcServer (stream echo)', fixed(r.rss_before_mb), fixed(r.rss_after_mb), int(r.bytes_per_connection), r === raw ? '' : ratio(r, raw)]),
    ),
    '',
    raw && skein ? `Target ≤ ${IDLE_RATIO_MAX}× bare: **${skein.bytes_per_connection / raw.bytes_per_connection <= IDLE_RATIO_MAX ? 'held' : 'missed'}**.` : '',
    '',
    `Flood: server RSS once a second through ${seconds} s of 256 calls in flight (after a 5 s warm-up); flat means every reading within ${percent(FLOOD_DRIFT_MAX)} of the first.`,
    '',
    markdownTable(
      ['scenario', 'calls/s', 'RSS first MB', 'min MB', 'max MB', 'last MB', 'largest drift from first', 'flat (± 10 %)'],
      flood.map((r) => [r.scenario, int(r.calls_per_s), fixed(r.first_mb), fixed(r.min_mb), fixed(r.max_mb), fixed(r.last_mb), percent(r.max_drift), r.max_drift <= FLOOD_DRIFT_MAX ? 'held' : 'missed']),
    ),
  ];
  const doc = readFileSync(docFile, 'utf8');
  writeFileSync(docFile, replaceBetweenMarkers(doc, 'memory-results', lines.join('\n'), { heading: '## Memory', beforeHeading: '## Codecs' }));
  console.log('updated docs/benchmarks.md (memory)');
}

const ratio = (r, raw) => (raw && raw.bytes_per_connection > 0 ? `${(r.bytes_per_connection / raw.bytes_per_connection).toFixed(2)}×` : '');
