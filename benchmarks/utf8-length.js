// CPU per call of core's utf8Length, beside the body codec-msgpack had as utf8Count (retired when
// the two were made one, kept here so that the choice can be measured again) and Node's own
// Buffer.byteLength (native; not in browsers, so not what core can use). Each runs in a loop of
// its own over 1e6 strings, 8-64 characters: ASCII, then mixed (half ASCII, half 2-, 3- and
// 4-byte characters, a lone surrogate in one string of a thousand). Alternated, 1 warm-up round
// then 5 measured; prints the best and every round, CPU ns per call (process.cpuUsage).
//
//   node benchmarks/utf8-length.js        (after `pnpm --filter @skein/core build`)
import { Buffer } from 'node:buffer';
import { utf8Length } from '@skein/core';

/** codec-msgpack's utf8Count until the 2026-12-05 session (the library's own loop). */
function retiredUtf8Count(str) {
  const length = str.length;
  let bytes = 0;
  let pos = 0;
  while (pos < length) {
    let unit = str.charCodeAt(pos++);
    if (unit < 0x80) {
      bytes++;
      continue;
    }
    if (unit < 0x800) {
      bytes += 2;
      continue;
    }
    if (unit >= 0xd800 && unit <= 0xdbff && pos < length) {
      const low = str.charCodeAt(pos);
      if ((low & 0xfc00) === 0xdc00) {
        ++pos;
        unit = 0x10000;
      }
    }
    bytes += unit > 0xffff ? 4 : 3;
  }
  return bytes;
}

const N = 1_000_000;
const ROUNDS = 5;
let seed = 12345;
const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
const pick = (list) => list[Math.floor(random() * list.length)];
const ASCII = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./'];
const WIDE = ['é', 'ß', 'Ж', '中', '文', '€', '😀', '𝄞'];

function strings(mixed) {
  const out = [];
  for (let i = 0; i < N; i++) {
    let s = '';
    for (let j = 8 + Math.floor(random() * 57); j > 0; j--) s += mixed && random() < 0.5 ? pick(WIDE) : pick(ASCII);
    out.push(mixed && i % 1000 === 0 ? `${s}\ud800x` : s);
  }
  return out;
}

// One loop each, so that every call site sees one function.
const loops = {
  'core utf8Length': (set) => { let t = 0; for (let i = 0; i < set.length; i++) t += utf8Length(set[i]); return t; },
  'retired utf8Count': (set) => { let t = 0; for (let i = 0; i < set.length; i++) t += retiredUtf8Count(set[i]); return t; },
  'Buffer.byteLength': (set) => { let t = 0; for (let i = 0; i < set.length; i++) t += Buffer.byteLength(set[i]); return t; },
};

const cpuNs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

for (const [name, set] of [['ascii', strings(false)], ['mixed', strings(true)]]) {
  const totals = new Set(Object.values(loops).map((loop) => loop(set)));
  if (totals.size !== 1) throw new Error(`${name}: the counts differ (${[...totals]})`);
  const rounds = Object.fromEntries(Object.keys(loops).map((k) => [k, []]));
  const order = Object.keys(loops);
  for (let r = 0; r <= ROUNDS; r++) {
    for (const key of r % 2 ? order : [...order].reverse()) {
      const t0 = cpuNs();
      loops[key](set);
      if (r > 0) rounds[key].push((cpuNs() - t0) / N);
    }
  }
  for (const [key, ns] of Object.entries(rounds)) {
    console.log(`${name} ${key.padEnd(18)} best ${Math.min(...ns).toFixed(1)} ns/call  rounds ${ns.map((x) => x.toFixed(1)).join(' ')}`);
  }
}
