// What keeping a pooled stream's items costs per item, apart from the socket: `StreamCall`
// writes to a wire that discards them, kept (`keepWrites()`, as a pool's stream) or not, on each
// `--stream` build given (an older build has no `keepWrites`: its rows are "not kept" only).
// CPU per item (process.cpuUsage: GC threads included), median of 40 rounds after 3 warm-up.
//
//   node benchmarks/stream-kept-writes.js [--stream dist/index.js,other/dist/index.js] [--items 8]
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values: flags } = parseArgs({ options: { stream: { type: 'string', default: '@skein/stream' }, items: { type: 'string', default: '8' } } });
const ITEMS = Number(flags.items);
const nothing = () => {};
const wire = { maxMessage: 1 << 20, maxBlob: 1 << 20, data: nothing, end: nothing, credit: nothing, cancel: nothing, congested: () => undefined };
const ITEM = new Uint8Array(32).fill(7);
const reply = { msg: new Uint8Array(0), blob: new Uint8Array(0) };

function run(StreamCall, keep, streams) {
  const c0 = process.cpuUsage();
  for (let i = 0; i < streams; i++) {
    const s = new StreamCall(wire, 1 << 20, undefined);
    if (keep) s.keepWrites();
    s.opened(1, 1 << 20);
    for (let j = 0; j < ITEMS; j++) void s.write(ITEM);
    s.end();
    s.finish(null, reply);
  }
  const c = process.cpuUsage(c0);
  return ((c.user + c.system) * 1000) / streams / ITEMS;
}

const variants = [];
for (const spec of flags.stream.split(',')) {
  const { StreamCall } = await import(spec.startsWith('@') ? spec : pathToFileURL(spec).href);
  variants.push([`${spec}, not kept`, StreamCall, false]);
  if ('keepWrites' in StreamCall.prototype) variants.push([`${spec}, kept`, StreamCall, true]);
}
const res = new Map();
for (let r = 0; r < 43; r++) {
  for (const [name, C, keep] of variants) {
    const ns = run(C, keep, Math.max(20, Math.round(16000 / ITEMS)));
    if (r >= 3) res.set(name, [...(res.get(name) ?? []), ns]);
    // Promise reactions run between rounds, as a real program's would.
    await new Promise((resolve) => setImmediate(resolve));
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const [name, a] of res) console.log(`${name}: ${median(a).toFixed(0)} ns CPU per item, streams of ${ITEMS} x 32 B items`);
