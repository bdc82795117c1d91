/** The first record whose fields equal every field of `query`, or undefined. */
export function findRecord(records, query) {
  return records.find((r) => Object.entries(query).every(([k, v]) => r[k] === v));
}

/** The suite without the call path: `echo-32B/send` → `echo-32B`. */
export const baseSuite = (r) => r.suite.split('/')[0];

/** Suites whose client and server shared one CPU. */
export const isPinned = (r) => baseSuite(r).endsWith('-1cpu');

/** How a record is named in tables, charts and targets: `stream send() tcp @256`, `… (bun)`. */
export function recordLabel(r) {
  const who = r.system === 'skein' ? r.layer : r.system === 'c' ? 'C echo' : r.system;
  const path = r.suite.includes('/') ? ` ${r.suite.split('/')[1]}()` : '';
  const codec = ['none', 'json', 'protobuf', 'avro'].includes(r.codec) ? '' : ` ${r.codec}`;
  // The C echo's runtime is its system: no `(c)` after `C echo`.
  const runtime = r.runtime && r.runtime !== 'node' && r.runtime !== r.system ? ` (${r.runtime})` : '';
  return `${who}${path}${codec} ${r.transport} @${r.in_flight}${isPinned(r) ? ' 1cpu' : ''}${runtime}`;
}
