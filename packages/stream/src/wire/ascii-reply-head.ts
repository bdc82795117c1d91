import { NO_DEADLINE } from './call-head.js';
import { u32 } from './protocol.js';

/** `remaining_ms`, in front of the entries. */
const REMAINING = 4;

/**
 * Whether `b` is a reply head (wire/reply-metadata.ts) that decodes whole, read by its lengths
 * and bytes alone, nothing decoded: `remaining_ms` NO_DEADLINE, then entries each with a key of
 * 1 to 255 bytes, the last ending at `b`'s end, every key and value ASCII (so UTF-8). Such a head
 * can be kept and sent as it came: it reads as it would once decoded and encoded again. The bytes
 * are the same too when no key comes twice, as in every head a worker's request writes; a head
 * made by hand may repeat one (then its last value is what a client reads, as a decode reads
 * it), and is then counted against the bound as it is, every entry, the stricter measure.
 * False for any other; a head with a multi-byte character may still be one (decode it).
 */
export function isAsciiReplyHead(b: Uint8Array): boolean {
  const to = b.length;
  if (to < REMAINING || u32(b, 0) !== NO_DEADLINE) return false;
  for (let at = REMAINING; at < to; ) {
    const keyEnd = at + 1 + b[at]!;
    if (keyEnd === at + 1 || keyEnd + 2 > to) return false;
    const valueEnd = keyEnd + 2 + (b[keyEnd]! | (b[keyEnd + 1]! << 8));
    if (valueEnd > to || !ascii(b, at + 1, keyEnd) || !ascii(b, keyEnd + 2, valueEnd)) return false;
    at = valueEnd;
  }
  return true;
}

function ascii(b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (b[i]! > 0x7f) return false;
  return true;
}
