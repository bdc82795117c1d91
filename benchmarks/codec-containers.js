// What a message at the codecs' container budget (maxContainers, 1 Mi by default) costs, and
// what a 16 MiB message (the default frame limit) of empty maps, byte strings or short text
// strings costs now that it is refused. Run `pnpm build` first: this imports the built packages.
// Each case runs in a child process of its own, so that its peak RSS is its own.
//
// It first prints how many bytes of realistic payloads make one counted object (a message like
// one reaches the default budget at that many MiB).
//
//   node --expose-gc benchmarks/codec-containers.js [--only <substring of a case name>]
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { cbor, cborCodec } from '@skein/codec-cbor';
import { msgpack, msgpackCodec } from '@skein/codec-msgpack';
import { decodeCost } from './lib/decode-cost.js';

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

/** An array 32 header (`head`), then `n` 2-character strings 'ab' (`text`: their head byte). */
function twoChars(head, n, text) {
  const bytes = new Uint8Array(5 + 3 * n);
  bytes.set([head, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  for (let at = 5; at < bytes.length; at += 3) bytes.set([text, 0x61, 0x62], at);
  return bytes;
}

/** A map 32 header (`head`), then `n` entries of a 3-byte key (`text`: its head byte; 830 Ki distinct ones, in turn) and a null (`nil`). */
function distinctKeys(head, n, text, nil) {
  const bytes = new Uint8Array(5 + 5 * n);
  bytes.set([head, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  for (let i = 0, at = 5; i < n; i++, at += 5) bytes.set([text, 0x21 + (i % 94), 0x21 + (Math.floor(i / 94) % 94), 0x21 + (Math.floor(i / 8836) % 94), nil], at);
  return bytes;
}

const AT_BUDGET = (1 << 20) - 1; // and the array around them: 1 Mi
const FRAME = (16 << 20) - 5;
// Each case makes its message before it is timed.
const cases = [
  ['a JS loop making 1 Mi - 1 {} (the engine, for scale)', () => null, () => Array.from({ length: AT_BUDGET }, () => ({}))],
  ['a JS loop setting 1 Mi - 1 3-character keys (830 Ki distinct) on one object (the engine, for scale)', () => null, () => {
    const object = {};
    for (let i = 0; i < AT_BUDGET; i++) object[String.fromCharCode(0x21 + (i % 94), 0x21 + (Math.floor(i / 94) % 94), 0x21 + (Math.floor(i / 8836) % 94))] = null;
    return object;
  }],
  ['msgpack, 1 MiB: 1 Mi - 1 empty maps', () => arrayOf(0xdd, AT_BUDGET, 0x80), msgpackCodec],
  ['msgpack, 16 MiB: 16.7 M empty maps', () => arrayOf(0xdd, FRAME, 0x80), msgpackCodec],
  ['msgpack, 16 MiB: 8.4 M empty byte strings', () => emptyBins(FRAME >>> 1), msgpackCodec],
  ['msgpack, 3 MiB: 1 Mi - 1 2-character strings', () => twoChars(0xdd, AT_BUDGET, 0xa2), msgpackCodec],
  ['msgpack, 16 MiB: 5.6 M 2-character strings', () => twoChars(0xdd, Math.floor(FRAME / 3), 0xa2), msgpackCodec],
  ['msgpack, 16 MiB: a map of 3.4 M 3-byte keys', () => distinctKeys(0xdf, Math.floor(FRAME / 5), 0xa3, 0xc0), msgpackCodec],
  ['cbor, 1 MiB: 1 Mi - 1 empty maps', () => arrayOf(0x9a, AT_BUDGET, 0xa0), cborCodec],
  ['cbor, 16 MiB: 16.7 M empty maps', () => arrayOf(0x9a, FRAME, 0xa0), cborCodec],
  ['cbor, 16 MiB: 16.7 M empty byte strings', () => arrayOf(0x9a, FRAME, 0x40), cborCodec],
  ['cbor, 3 MiB: 1 Mi - 1 2-character strings', () => twoChars(0x9a, AT_BUDGET, 0x62), cborCodec],
  ['cbor, 16 MiB: 5.6 M 2-character strings', () => twoChars(0x9a, Math.floor(FRAME / 3), 0x62), cborCodec],
  ['cbor, 16 MiB: a map of 3.4 M 3-byte keys', () => distinctKeys(0xba, Math.floor(FRAME / 5), 0x63, 0xf6), cborCodec],
];

/** Wall and CPU ms of `run`, and the heap it leaves held (MB) while its result is alive. */
function cost(run) {
  const { wallMs, cpuMs, heldMb, outcome } = decodeCost(run);
  const what = outcome instanceof Error ? `refused (${outcome.message.slice(0, 50)}…)` : `decoded ${Array.isArray(outcome) ? outcome.length : Object.keys(outcome).length}`;
  return `${wallMs.toFixed(0)} ms wall, ${cpuMs.toFixed(0)} ms CPU, +${heldMb.toFixed(0)} MB held, ${what}`;
}

/** In a child: runs case `index` ROUNDS times, then the most RSS it added at any time (maxRSS, after the message was made). */
function runCase(index) {
  const [name, make, codec] = cases[index];
  const bytes = make();
  globalThis.gc();
  const before = process.resourceUsage().maxRSS / 1024;
  const run = typeof codec === 'function' ? codec : () => codec.decode(bytes);
  for (let r = 0; r < ROUNDS; r++) console.log(`${name}: ${cost(run)}`);
  console.log(`${name}: peak RSS +${(process.resourceUsage().maxRSS / 1024 - before).toFixed(0)} MB`);
}

/** Realistic payloads: codec.js's small and medium messages, a table of rows, a list of short words. */
const realistic = {
  small: { id: 48213, method: 'Calculator.add', ok: true, score: 0.875, tags: ['fast', 'retry'] },
  medium: {
    orderId: 'ord_7f3a9c21',
    customer: { id: 99121, name: 'Ada Lovelace', email: 'ada@example.org', vip: false },
    items: Array.from({ length: 10 }, (_, i) => ({ sku: `SKU-${1000 + i}`, title: `Widget model ${i} with a moderately long descriptive title`, price: 9.99 + i * 3.5, tags: ['hardware', i % 2 ? 'blue' : 'red'] })),
    notes: 'Leave at the front desk if nobody answers. Fragile: contains glass.',
  },
  rows: Array.from({ length: 1000 }, (_, i) => ({ id: i, name: `u${i}`, ok: i % 2 === 0, tag: ['a', 'bb', 'cc'][i % 3] })),
  words: Array.from({ length: 1000 }, (_, i) => `w${i % 100}`),
};

/** The fewest maxContainers `make` reads `bytes` with: what the message counts. */
function counted(make, bytes) {
  let low = 1;
  let high = bytes.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    try {
      make({ maxContainers: mid }).decode(bytes);
      high = mid;
    } catch {
      low = mid + 1;
    }
  }
  return low;
}

/** How many bytes of each realistic payload make one counted object: a message like it reaches the default budget at that many MiB. */
function realisticDensity() {
  for (const [name, value] of Object.entries(realistic)) {
    const line = [[msgpack, msgpackCodec], [cbor, cborCodec]].map(([make, codec]) => {
      const bytes = codec.encode(value);
      make().decode(bytes); // the keys in the cache, as in a stream of such messages
      const n = counted(make, bytes);
      return `${codec.name} ${bytes.length} B, ${n} counted, ${(bytes.length / n).toFixed(1)} B each`;
    });
    console.log(`realistic ${name}: ${line.join('; ')}`);
  }
}

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
const child = process.argv.indexOf('--case');
if (child >= 0) {
  runCase(Number(process.argv[child + 1]));
} else {
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : '';
  console.log(`node ${process.versions.node}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  realisticDensity();
  cases.forEach(([name], i) => {
    if (!name.includes(only)) return;
    process.stdout.write(execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--case', String(i)]));
  });
}
