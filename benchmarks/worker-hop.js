// How a batch of request bytes should travel to a worker thread and back: the three ways
// @skein/workers could move them, measured alone (no sockets, no RPC), echoing batches of
// `batch` messages of `size` bytes with 4 batches in flight.
//
// - clone:    postMessage of each message's own copy (`slice()`): a structured clone, which
//             copies each one again on both sides (and would copy a view's whole backing
//             chunk if the view were posted as it is).
// - transfer: the pool's way: the batch packed into one fresh ArrayBuffer (one copy),
//             transferred (no copy); the echo comes back the same way.
// - shared:   a SharedArrayBuffer ring per direction, 4 fixed slots: the sender copies the
//             batch into its slot (one copy, no allocation) and posts only the count; the
//             receiver reads views of the slot. Slots are reused once the echo is back.
//
//   node benchmarks/worker-hop.js [--ms 1500]
import { Worker } from 'node:worker_threads';
import { parseArgs } from 'node:util';
import { environment } from './lib/environment.js';
import { int } from './lib/format.js';
import { markdownTable } from './lib/markdown-table.js';

const { values: flags } = parseArgs({ options: { ms: { type: 'string', default: '1500' } } });
const MS = Number(flags.ms);
const SLOTS = 4;
const BATCH = 64;

const workerCode = `
const { parentPort, workerData } = require('node:worker_threads');
const { mode, size, batch } = workerData;
let rings;
parentPort.on('message', (m) => {
  if (m.rings) { rings = m.rings; return; }
  if (mode === 'clone') {
    let sum = 0;
    for (const u of m.msgs) sum += u[0];
    parentPort.postMessage({ msgs: m.msgs.map((u) => u.slice()), sum });
  } else if (mode === 'transfer') {
    const inBytes = new Uint8Array(m.buf);
    const out = new ArrayBuffer(inBytes.length);
    new Uint8Array(out).set(inBytes);
    parentPort.postMessage({ buf: out }, [out]);
  } else {
    const slotBytes = size * batch;
    const src = new Uint8Array(rings.toWorker, m.slot * slotBytes, slotBytes);
    new Uint8Array(rings.toMain, m.slot * slotBytes, slotBytes).set(src);
    parentPort.postMessage({ slot: m.slot });
  }
});`;

function run(mode, size) {
  return new Promise((resolve) => {
    const w = new Worker(workerCode, { eval: true, workerData: { mode, size, batch: BATCH } });
    const msg = new Uint8Array(size).fill(7);
    // Stands in for the views a connection's reader hands on: pieces of one bigger chunk.
    const chunk = new Uint8Array(size * BATCH * 2).fill(7);
    const views = Array.from({ length: BATCH }, (_, i) => chunk.subarray(i * size, i * size + size));
    const slotBytes = size * BATCH;
    const rings = mode === 'shared' ? { toWorker: new SharedArrayBuffer(slotBytes * SLOTS), toMain: new SharedArrayBuffer(slotBytes * SLOTS) } : undefined;
    if (rings) w.postMessage({ rings });
    const toWorker = rings && new Uint8Array(rings.toWorker);
    let calls = 0;
    let stop = false;
    const send = (slot) => {
      if (mode === 'clone') w.postMessage({ msgs: views.map((v) => v.slice()) });
      else if (mode === 'transfer') {
        const buf = new ArrayBuffer(slotBytes);
        const body = new Uint8Array(buf);
        for (let i = 0; i < BATCH; i++) body.set(views[i], i * size);
        w.postMessage({ buf }, [buf]);
      } else {
        for (let i = 0; i < BATCH; i++) toWorker.set(views[i], slot * slotBytes + i * size);
        w.postMessage({ slot });
      }
    };
    let sink = 0;
    let nextSlot = 0;
    w.on('message', (m) => {
      // Read each echoed message once, as a reply writer would.
      if (mode === 'clone') for (const u of m.msgs) sink += u[0];
      else {
        const bytes = mode === 'transfer' ? new Uint8Array(m.buf) : new Uint8Array(rings.toMain, m.slot * slotBytes, slotBytes);
        for (let i = 0; i < BATCH; i++) sink += bytes[i * size];
      }
      calls += BATCH;
      if (!stop) send(mode === 'shared' ? m.slot : nextSlot++ % SLOTS);
    });
    const t0 = performance.now();
    for (let s = 0; s < SLOTS; s++) send(s);
    setTimeout(() => {
      stop = true;
      const seconds = (performance.now() - t0) / 1000;
      void w.terminate().then(() => resolve({ rate: calls / seconds, mbps: (calls * size * 2) / seconds / 1e6, sink }));
    }, MS);
    void msg;
  });
}

const rows = [];
for (const size of [32, 1024, 64 * 1024]) {
  const row = [size >= 1024 ? `${size / 1024} KiB` : `${size} B`];
  for (const mode of ['clone', 'transfer', 'shared']) {
    const r = await run(mode, size);
    row.push(`${int(r.rate)} (${int(r.mbps)} MB/s)`);
    console.error(`${mode} ${size}: ${int(r.rate)} messages/s`);
  }
  rows.push(row);
}
console.log(environment(['node benchmarks/worker-hop.js', ...process.argv.slice(2)].join(' ')));
console.log(markdownTable(['message size', 'clone', 'transfer (the pool)', 'shared ring'], rows));
