// What a message at the codecs' container budget (maxContainers, 1 Mi by default) costs, and
// what a 16 MiB message of empty maps or byte strings (the default frame limit, 16.7 million containers) costs
// now that it is refused. Run `pnpm build` first: this imports the built packages.
//
//   node --expose-gc benchmarks/codec-containers.js
import { cborCodec } from '@skein/codec-cbor';
import { msgpackCodec } from '@skein/codec-msgpack';

const ROUNDS = 5;

/** An array 32 header (`head`), then `n` one-byte values `item`. */
function arrayOf(head, n, item) {
  const bytes = new Uint8Array(5 + n).fill(item);
  bytes.set([head, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  return bytes;
}

/** An array 32 of `n` empty msgpack byte strings (bin 8 of length 0: 0xc4 0x00). */
function emptyBins(n) {
  const bytes = new Uint8Array(5 + 2 * n);
  bytes.set([0xdd, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  for (let at = 5; at < bytes.length; at += 2) bytes[at] = 0xc4;
  return bytes;
}

/** Wall and CPU ms of `run`, and the heap it leaves held (MB) while its result is alive. */
function cost(run) {
  globalThis.gc();
  const heap = process.memoryUsage().heapUsed;
  const cpu = process.cpuUsage();
  const start = performance.now();
  let outcome;
  try {
    outcome = run();
  } catch (e) {
    outcome = e;
  }
  const wall = performance.now() - start;
  const used = process.cpuUsage(cpu);
  const held = (process.memoryUsage().heapUsed - heap) / 1e6;
  const what = outcome instanceof Error ? `refused (${outcome.message.slice(0, 50)}…)` : `decoded ${outcome.length}`;
  return `${wall.toFixed(0)} ms wall, ${((used.user + used.system) / 1000).toFixed(0)} ms CPU, +${held.toFixed(0)} MB, ${what}`;
}

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
const AT_BUDGET = (1 << 20) - 1; // and the array around them: 1 Mi
const FRAME = (16 << 20) - 5;
// The messages are made before they are timed.
const messages = {
  msgpack: [arrayOf(0xdd, AT_BUDGET, 0x80), arrayOf(0xdd, FRAME, 0x80), emptyBins(FRAME >>> 1)],
  cbor: [arrayOf(0x9a, AT_BUDGET, 0xa0), arrayOf(0x9a, FRAME, 0xa0), arrayOf(0x9a, FRAME, 0x40)],
};
const cases = [
  ['a JS loop making 1 Mi - 1 {} (the engine, for scale)', () => Array.from({ length: AT_BUDGET }, () => ({}))],
  ['msgpack, 1 MiB: 1 Mi - 1 empty maps', () => msgpackCodec.decode(messages.msgpack[0])],
  ['msgpack, 16 MiB: 16.7 M empty maps', () => msgpackCodec.decode(messages.msgpack[1])],
  ['msgpack, 16 MiB: 8.4 M empty byte strings', () => msgpackCodec.decode(messages.msgpack[2])],
  ['cbor, 1 MiB: 1 Mi - 1 empty maps', () => cborCodec.decode(messages.cbor[0])],
  ['cbor, 16 MiB: 16.7 M empty maps', () => cborCodec.decode(messages.cbor[1])],
  ['cbor, 16 MiB: 16.7 M empty byte strings', () => cborCodec.decode(messages.cbor[2])],
];
console.log(`node ${process.versions.node}, load average ${(await import('node:os')).loadavg().map((l) => l.toFixed(1)).join(' ')}`);
for (const [name, run] of cases) {
  for (let r = 0; r < ROUNDS; r++) console.log(`${name}: ${cost(run)}`);
}
