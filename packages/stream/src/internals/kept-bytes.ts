import { EMPTY_BYTES, takeBytes } from '@skein/core';

/** Below this an item is copied out of the received chunk; above it a view costs no more memory than the item. */
const COPY_BELOW = 16 * 1024;

/**
 * A stream item's bytes out of a received frame, to wait in an inbox. Credit counts item bytes,
 * so a small item must not pin the whole receive chunk it came in (many would hold far more than
 * the window): it is copied. A large one is most of its chunk anyway, and is taken as it comes.
 */
export function keptBytes(bytes: Uint8Array, from: number, to: number): Uint8Array {
  if (from === to) return EMPTY_BYTES;
  return to - from < COPY_BELOW ? bytes.slice(from, to) : takeBytes(bytes, from, to);
}
