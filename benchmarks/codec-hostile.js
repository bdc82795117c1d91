// How long one hostile message blocks the event loop in each codec's decode, with the default
// options and the default frame limit (@skein/stream's maxMessage, 16 MiB): the worst shapes a
// peer can send within those limits. Run `pnpm build` first: this imports the built packages.
// Each case runs in a child process of its own (its message made before it is timed), ROUNDS
// times; a line gives wall and CPU ms of the decode and whether it was refused.
//
//   node --expose-gc benchmarks/codec-hostile.js [--only <substring of a case name>]
//     [--max-containers <n>] [--max-map-keys <n>]   (both codecs made with these instead of the defaults)
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { cbor as makeCbor } from '@skein/codec-cbor';
import { msgpack as makeMsgpack } from '@skein/codec-msgpack';
import { decodeCost } from './lib/decode-cost.js';

const ROUNDS = 3;
const FRAME = 16 << 20; // @skein/stream's default maxMessage
const flag = (name) => (process.argv.includes(name) ? Number(process.argv[process.argv.indexOf(name) + 1]) : undefined);
const BUDGET = flag('--max-containers') ?? 1 << 20; // both codecs' default maxContainers
const MAP_KEYS = flag('--max-map-keys') ?? 1 << 17; // both codecs' default maxMapKeys
const limits = { maxContainers: BUDGET, maxMapKeys: MAP_KEYS };
const msgpackCodec = makeMsgpack(limits);
const cborCodec = makeCbor(limits);

/** Grows a message byte by byte; `done` returns exactly the bytes written. */
class Bytes {
  buf = new Uint8Array(FRAME + 64);
  at = 0;
  put(...values) {
    for (const v of values) this.buf[this.at++] = v;
    return this;
  }
  be(value, width) {
    for (let i = width - 1; i >= 0; i--) this.buf[this.at++] = Math.floor(value / 256 ** i) % 256;
    return this;
  }
  done() {
    return this.buf.subarray(0, this.at);
  }
}

/** The `i`th of many distinct `length`-byte printable ASCII keys (94^length of them). */
function key(i, length) {
  const out = [];
  for (let k = 0; k < length; k++, i = Math.floor(i / 94)) out.push(0x21 + (i % 94));
  return out;
}

// The two formats' headers: [head byte for a 32-bit count] per kind, and the short forms.
const msgpack = {
  codec: msgpackCodec,
  str32: 0xdb,
  map32: (b, n) => b.put(0xdf).be(n, 4),
  array32: (b, n) => b.put(0xdd).be(n, 4),
  fixarray: (b, n) => b.put(0x90 + n),
  fixmap: (b, n) => b.put(0x80 + n),
  str: (b, bytes) => (bytes.length < 32 ? b.put(0xa0 + bytes.length) : b.put(0xd9, bytes.length)).put(...bytes),
  uint32: (b, n) => b.put(0xce).be(n, 4),
  float64: (b, x) => {
    const f = new DataView(new ArrayBuffer(8));
    f.setFloat64(0, x);
    return b.put(0xcb, ...new Uint8Array(f.buffer));
  },
  nil: (b) => b.put(0xc0),
  // A value the fast path leaves to the library (a Date): the whole message is read again.
  ext: (b) => b.put(0xd6, 0xff, 0, 0, 0, 0),
};
const cbor = {
  codec: cborCodec,
  str32: 0x7a,
  map32: (b, n) => b.put(0xba).be(n, 4),
  array32: (b, n) => b.put(0x9a).be(n, 4),
  fixarray: (b, n) => b.put(0x80 + n),
  fixmap: (b, n) => b.put(0xa0 + n),
  str: (b, bytes) => (bytes.length < 24 ? b.put(0x60 + bytes.length) : b.put(0x78, bytes.length)).put(...bytes),
  uint32: (b, n) => b.put(0x1a).be(n, 4),
  float64: (b, x) => {
    const f = new DataView(new ArrayBuffer(8));
    f.setFloat64(0, x);
    return b.put(0xfb, ...new Uint8Array(f.buffer));
  },
  nil: (b) => b.put(0xf6),
  ext: (b) => b.put(0xc1, 0), // a Date (tag 1, epoch seconds)
};

/** Entries of one map until the frame is full (or `n`), `entry(b, i)` writing each; `tail` puts an ext after the map. */
function oneMap(f, entryBytes, entry, { n = Infinity, tail = false } = {}) {
  return () => {
    const b = new Bytes();
    const count = Math.min(n, Math.floor((FRAME - 16) / entryBytes));
    if (tail) f.fixarray(b, 2);
    f.map32(b, count);
    for (let i = 0; i < count; i++) entry(b, i);
    if (tail) f.ext(b);
    return b.done();
  };
}

/**
 * Maps of `per` entries each (the default maxMapKeys, 128 Ki) in an array, until the frame is
 * full or `n` entries are written; entry `i` of the message is written by `entry(b, i)`.
 */
function maps(f, per, entryBytes, entry, { n = Infinity, tail = false } = {}) {
  return () => {
    const b = new Bytes();
    const count = Math.min(n, Math.floor((FRAME - 16) / (entryBytes + 5 / per)));
    const full = Math.floor(count / per);
    const sizes = [...new Array(full).fill(per), ...(count % per ? [count % per] : [])];
    f.array32(b, sizes.length + (tail ? 1 : 0));
    let i = 0;
    for (const size of sizes) {
      f.map32(b, size);
      for (let k = 0; k < size; k++) entry(b, i++);
    }
    if (tail) f.ext(b);
    return b.done();
  };
}

/** An array of `item`s until the frame is full (or `n`). */
function manyOf(f, itemBytes, item, { n = Infinity, tail = false } = {}) {
  return () => {
    const b = new Bytes();
    const count = Math.min(n, Math.floor((FRAME - 16) / itemBytes));
    f.array32(b, count + (tail ? 1 : 0));
    for (let i = 0; i < count; i++) item(b, i);
    if (tail) f.ext(b);
    return b.done();
  };
}

const ascii = (n, c = 0x61) => new Array(n).fill(c);
/** `n` bytes of 'é' (C3 A9): text that is not ASCII. */
const accented = (n) => Array.from({ length: n }, (_, i) => (i % 2 ? 0xa9 : 0xc3));
/** A chain of `depth` arrays, one inside the other, around a nil. */
const chain = (f, depth) => (b) => {
  for (let d = 0; d < depth; d++) f.fixarray(b, 1);
  f.nil(b);
};

function casesOf(name, f) {
  const atBudget = BUDGET - 3; // the array, the map and the ext around them count too
  const k4 = (b, i) => f.nil(f.str(b, key(i, 4)));
  const k18 = (b, i) => f.nil(f.str(b, [...ascii(14), ...key(i, 4)]));
  const alike = (b, i) => f.nil(f.str(b, [...ascii(15), 0x41 + (i % 16)])); // 16 keys the key cache holds, the last byte apart
  return [
    [`${name}: one map, 4-byte distinct keys, 16 MiB`, oneMap(f, 6, k4)],
    [`${name}: one map, 4-byte distinct keys, 1 Mi - 3 (at maxContainers), then an ext`, oneMap(f, 6, k4, { n: atBudget, tail: true })],
    [`${name}: maps of 128 Ki 4-byte distinct keys, 1 Mi - 16 keys in all`, maps(f, MAP_KEYS, 6, k4, { n: BUDGET - 16 })],
    [`${name}: one map, 128 Ki 4-byte distinct keys (at maxMapKeys)`, oneMap(f, 6, k4, { n: MAP_KEYS })],
    [`${name}: one map, 128 Ki 4-byte distinct keys (at maxMapKeys), then an ext`, oneMap(f, 6, k4, { n: MAP_KEYS, tail: true })],
    [`${name}: one map, 128 Ki 18-byte distinct keys (at maxMapKeys), then an ext`, oneMap(f, 21, k18, { n: MAP_KEYS, tail: true })],
    [`${name}: one map, uint32 keys, 16 MiB`, oneMap(f, 6, (b, i) => f.nil(f.uint32(b, i * 7 + 1000)))],
    [`${name}: one map, 128 Ki uint32 keys (at maxMapKeys), then an ext`, oneMap(f, 6, (b, i) => f.nil(f.uint32(b, i * 7 + 1000)), { n: MAP_KEYS, tail: true })],
    [`${name}: one map, 128 Ki float64 keys (at maxMapKeys), then an ext`, oneMap(f, 10, (b, i) => f.nil(f.float64(b, i + 0.5)), { n: MAP_KEYS, tail: true })],
    [`${name}: one map, 16 keys of 16 bytes alike but the last, repeated, 16 MiB, then an ext`, oneMap(f, 18, alike, { tail: true })],
    [`${name}: one map, 16 keys of 16 bytes alike but the last, repeated 128 Ki times (at maxMapKeys), then an ext`, oneMap(f, 18, alike, { n: MAP_KEYS, tail: true })],
    [`${name}: empty maps, at maxContainers`, manyOf(f, 1, (b) => f.fixmap(b, 0), { n: BUDGET - 1 })],
    [`${name}: empty maps, at maxContainers, then an ext`, manyOf(f, 1, (b) => f.fixmap(b, 0), { n: BUDGET - 3, tail: true })],
    [`${name}: empty maps, 16 MiB`, manyOf(f, 1, (b) => f.fixmap(b, 0))],
    // Each one a value the fast path hands to the library (msgpack), or leaves the message to it (cbor).
    [`${name}: exts (Dates), at maxContainers`, manyOf(f, 6, (b) => f.ext(b), { n: BUDGET - 1 })],
    [`${name}: maps of one 2-byte key, 1 Mi - 3, then an ext`, manyOf(f, 4, (b) => f.nil(f.str(f.fixmap(b, 1), [0x61, 0x62])), { n: BUDGET - 3, tail: true })],
    [`${name}: maps of one 2-byte key, 128 Ki (at maxMapKeys), then an ext`, manyOf(f, 4, (b) => f.nil(f.str(f.fixmap(b, 1), [0x61, 0x62])), { n: MAP_KEYS, tail: true })],
    [`${name}: chains of 98 arrays, at maxContainers`, manyOf(f, 99, chain(f, 98), { n: Math.floor(BUDGET / 98) - 1 })],
    [`${name}: 24-byte ASCII strings, 16 MiB`, manyOf(f, 26, (b) => f.str(b, ascii(24)))],
    [`${name}: 24-byte ASCII strings, 16 MiB, then an ext`, manyOf(f, 26, (b) => f.str(b, ascii(24)), { tail: true })],
    [`${name}: 200-byte accented strings, 16 MiB, then an ext`, manyOf(f, 202, (b) => f.str(b, accented(200)), { tail: true })],
    [`${name}: one string, 16 MiB`, () => {
      const n = FRAME - 8;
      const bytes = new Uint8Array(5 + n).fill(0x61);
      bytes.set([f.str32, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
      return bytes;
    }],
  ];
}

const cases = [
  ['a JS loop setting 1 Mi distinct 4-character keys on one object (the engine, for scale)', () => null, () => {
    const object = {};
    for (let i = 0; i < BUDGET; i++) object[String.fromCharCode(...key(i, 4))] = null;
    return object;
  }],
  ['a JS loop making 1 Mi {} (the engine, for scale)', () => null, () => Array.from({ length: BUDGET }, () => ({}))],
  ...casesOf('msgpack', msgpack).map(([name, make]) => [name, make, msgpackCodec]),
  ...casesOf('cbor', cbor).map(([name, make]) => [name, make, cborCodec]),
  ['cbor: one indefinite-length map, uint32 keys, 16 MiB', () => {
    const b = new Bytes().put(0xbf);
    for (let i = 0; b.at < FRAME - 8; i++) cbor.nil(cbor.uint32(b, i * 7 + 1000));
    return b.put(0xff).done();
  }, cborCodec],
];

function describe(outcome) {
  if (outcome instanceof Error) return `refused (${outcome.message.slice(0, 60)}…)`;
  if (typeof outcome === 'string') return `decoded, a string of ${outcome.length}`;
  const top = Array.isArray(outcome) ? outcome[0] : outcome;
  const size = Array.isArray(outcome) ? `${outcome.length} items` : `${Object.keys(outcome).length} keys`;
  return `decoded, ${size}${Array.isArray(outcome) && top && typeof top === 'object' && !Array.isArray(top) ? ` (first: ${Object.keys(top).length} keys)` : ''}`;
}

/** Wall and CPU ms of one `run`. */
function cost(run) {
  const { wallMs, cpuMs, outcome } = decodeCost(run);
  return `${wallMs.toFixed(0)} ms wall, ${cpuMs.toFixed(0)} ms CPU, ${describe(outcome)}`;
}

function runCase(index) {
  const [name, make, codec] = cases[index];
  const bytes = make();
  const run = typeof codec === 'function' ? codec : () => codec.decode(bytes);
  const size = bytes ? `, ${(bytes.length / 2 ** 20).toFixed(2)} MiB` : '';
  for (let r = 0; r < ROUNDS; r++) console.log(`${name}${size}: ${cost(run)}`);
}

if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc');
const child = process.argv.indexOf('--case');
if (child >= 0) {
  runCase(Number(process.argv[child + 1]));
} else {
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : '';
  console.log(`node ${process.versions.node}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}, maxContainers ${BUDGET}, maxMapKeys ${MAP_KEYS}`);
  cases.forEach(([name], i) => {
    if (!name.includes(only)) return;
    process.stdout.write(execFileSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--case', String(i), ...process.argv.slice(2).filter((_, k, all) => all[k] !== '--only' && all[k - 1] !== '--only')]));
  });
}
