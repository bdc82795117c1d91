/**
 * UTF-8 exactly as @msgpack/msgpack 3.1 writes and reads it, for the fast path
 * (fast-encode.ts, fast-decode.ts). Exactly matters where the two ways the library has differ:
 * its JavaScript loops write a lone surrogate as its own 3 bytes (ED A0 80) and read invalid
 * bytes as Latin-1, while TextEncoder writes U+FFFD and TextDecoder replaces and drops a BOM.
 * Which one runs depends on the length, so the thresholds are the library's too. The
 * differential test (test/msgpack-fast-path.test.ts) compares both on random strings.
 */

/** Longer strings (in UTF-16 units) are written with TextEncoder.encodeInto. */
export const TEXT_ENCODER_THRESHOLD = 50;
/** Longer strings (in bytes) are read with TextDecoder. */
export const TEXT_DECODER_THRESHOLD = 200;

export const textEncoder = new TextEncoder();

/** The size of the header the library writes before a string of `byteLength` bytes: fixstr, str 8, 16, 32. */
export function strHeaderSize(byteLength: number): number {
  return byteLength < 32 ? 1 : byteLength < 0x100 ? 2 : byteLength < 0x10000 ? 3 : 5;
}

export const textDecoder = new TextDecoder();

/**
 * Writes `str` at `offset` with the library's loop; `output` has room for core's utf8Length(str)
 * (the library's length too: its lone surrogate's three bytes are as many as TextEncoder's U+FFFD).
 */
export function utf8EncodeJs(str: string, output: Uint8Array, offset: number): void {
  const length = str.length;
  let pos = 0;
  while (pos < length) {
    let unit = str.charCodeAt(pos++);
    if (unit < 0x80) {
      output[offset++] = unit;
      continue;
    } else if (unit < 0x800) {
      output[offset++] = ((unit >> 6) & 0x1f) | 0xc0;
    } else {
      if (unit >= 0xd800 && unit <= 0xdbff && pos < length) {
        const low = str.charCodeAt(pos);
        if ((low & 0xfc00) === 0xdc00) {
          ++pos;
          unit = ((unit & 0x3ff) << 10) + (low & 0x3ff) + 0x10000;
        }
      }
      if (unit <= 0xffff) {
        output[offset++] = ((unit >> 12) & 0x0f) | 0xe0;
        output[offset++] = ((unit >> 6) & 0x3f) | 0x80;
      } else {
        output[offset++] = ((unit >> 18) & 0x07) | 0xf0;
        output[offset++] = ((unit >> 12) & 0x3f) | 0x80;
        output[offset++] = ((unit >> 6) & 0x3f) | 0x80;
      }
    }
    output[offset++] = (unit & 0x3f) | 0x80;
  }
}

/**
 * Reads `length` bytes at `start` with the library's loop. Like it, a sequence cut short by the
 * end of the string takes its missing bytes from what follows (0 past the end of `bytes`);
 * `decodedEnd` says where the last sequence really ended, so a caller can tell.
 */
export function utf8DecodeJs(bytes: Uint8Array, start: number, length: number): string {
  let offset = start;
  const end = start + length;
  // At most TEXT_DECODER_THRESHOLD units: one fromCharCode call takes them all.
  const units: number[] = [];
  while (offset < end) {
    const byte1 = bytes[offset++]!;
    if ((byte1 & 0x80) === 0) {
      units.push(byte1);
    } else if ((byte1 & 0xe0) === 0xc0) {
      const byte2 = bytes[offset++]! & 0x3f;
      units.push(((byte1 & 0x1f) << 6) | byte2);
    } else if ((byte1 & 0xf0) === 0xe0) {
      const byte2 = bytes[offset++]! & 0x3f;
      const byte3 = bytes[offset++]! & 0x3f;
      units.push(((byte1 & 0x1f) << 12) | (byte2 << 6) | byte3);
    } else if ((byte1 & 0xf8) === 0xf0) {
      const byte2 = bytes[offset++]! & 0x3f;
      const byte3 = bytes[offset++]! & 0x3f;
      const byte4 = bytes[offset++]! & 0x3f;
      let unit = ((byte1 & 0x07) << 0x12) | (byte2 << 0x0c) | (byte3 << 0x06) | byte4;
      if (unit > 0xffff) {
        unit -= 0x10000;
        units.push(((unit >>> 10) & 0x3ff) | 0xd800);
        unit = 0xdc00 | (unit & 0x3ff);
      }
      units.push(unit);
    } else {
      units.push(byte1);
    }
  }
  decodedEnd = offset;
  return String.fromCharCode.apply(null, units);
}

/** Where the last utf8DecodeJs stopped reading: past its end if the last sequence was cut short. */
export let decodedEnd = 0;
