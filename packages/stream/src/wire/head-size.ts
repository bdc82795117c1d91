/**
 * What a call head counts against the server's `max_head` (docs/protocol.md, "Call head"): its
 * bytes, and HEAD_ENTRY_OVERHEAD for each metadata entry, as HTTP/2 counts a header list (RFC
 * 9113, SETTINGS_MAX_HEADER_LIST_SIZE: a field's name and value and 32 octets). A read entry
 * costs a key string and a slot in the call's record whatever its size: a head of 8 KiB in
 * 1,637 entries of a two-byte key and no value held 98 KB of heap, twelve times `max_head`, and
 * a connection holds a head per handler it runs (twice `maxInFlightPerConn`: ~200 MB from 17 MB
 * sent). Counted so, a head holds at most about twice `max_head`.
 */
export const HEAD_ENTRY_OVERHEAD = 32;

/** `remaining_ms`, in front of the entries. */
const REMAINING = 4;
/** The fewest bytes an entry takes: its key length, a one-byte key, its value length. */
const MIN_ENTRY = 4;

/** A head over its bound: its bytes, and, when they alone are not over it, its entries and what they count together. */
export type HeadOver = { readonly bytes: number; readonly entries?: undefined } | { readonly bytes: number; readonly entries: number; readonly counted: number };

/**
 * How the head at `b[from, to)` goes over `max`, or undefined when it fits. A head short enough
 * to fit with as many entries as its bytes could hold (a token, a trace context: most heads) is
 * not walked. An entry cut short counts as one; decoding refuses it.
 */
export function headOver(b: Uint8Array, from: number, to: number, max: number): HeadOver | undefined {
  const bytes = to - from;
  if (bytes > max) return { bytes };
  if (bytes + HEAD_ENTRY_OVERHEAD * Math.ceil(Math.max(0, bytes - REMAINING) / MIN_ENTRY) <= max) return undefined;
  const entries = headEntries(b, from, to);
  const counted = bytes + HEAD_ENTRY_OVERHEAD * entries;
  return counted <= max ? undefined : { bytes, entries, counted };
}

/** Words for a head over its bound (`bytes`: what its bytes are called): its bytes alone when they are over, else how its entries count. */
export function describeHeadOver(over: HeadOver, bytes = 'bytes'): string {
  if (over.entries === undefined) return `${over.bytes} ${bytes}`;
  return `${over.bytes} ${bytes} in ${over.entries} entries, counted as ${over.counted} (${HEAD_ENTRY_OVERHEAD} an entry besides its bytes)`;
}

/** The entries of the head at `b[from, to)`, read by their lengths alone. */
function headEntries(b: Uint8Array, from: number, to: number): number {
  let entries = 0;
  let at = from + REMAINING;
  while (at < to) {
    entries++;
    const keyEnd = at + 1 + b[at]!;
    if (keyEnd + 2 > to) break;
    at = keyEnd + 2 + (b[keyEnd]! | (b[keyEnd + 1]! << 8));
  }
  return entries;
}
