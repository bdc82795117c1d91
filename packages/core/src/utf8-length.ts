/**
 * The bytes `s` takes as UTF-8, counted without encoding it: a surrogate pair four, a lone
 * surrogate three. That is TextEncoder's length (it writes a lone surrogate as U+FFFD, three
 * bytes) and @msgpack/msgpack's too (its loop writes one as its own three bytes), so a header
 * can be sized, or a bound checked, before the string is written either way.
 *
 * Of the two bodies Skein had (codec-msgpack's and stream's), stream's: at least as fast on Node
 * 20 (0-7% less CPU on ASCII strings of 8-64 characters, the same within noise on mixed ones;
 * docs/benchmarks.md, "UTF-8 length"). No Buffer.byteLength: it is not on every runtime.
 */
export function utf8Length(s: string): number {
  // One byte a UTF-16 unit to begin with; what is wider adds to it.
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c < 0xdc00 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a surrogate pair: four bytes for its two units
      i++;
    } else n += 2; // the rest of the BMP, and a lone surrogate: three bytes
  }
  return n;
}
