/**
 * From this length on, memory not zeroed first is worth what it costs: on Node (and Bun and Deno,
 * which have Node's `Buffer`) it is a Buffer made and then viewed, two objects where
 * `new Uint8Array` makes one; below it, zeroing costs less than the second object.
 */
export const LONG_BYTES = 4096;

type UnsafeAllocator = { allocUnsafeSlow(n: number): Uint8Array };
const nodeBuffer = (globalThis as { Buffer?: UnsafeAllocator }).Buffer;

/**
 * `n` bytes of memory of their own, for a caller that writes every one of them before anything
 * reads them: a long frame assembled from the chunks it arrived in, a long read copied out of a
 * reused buffer. `new Uint8Array(n)` zeroes its memory first, a pass over every byte that the
 * copies then make again: a tenth of a server's CPU when it receives 1 MiB frames
 * (docs/benchmarks.md, "Large payloads and V8's marking threshold"). What such memory held
 * before (another connection's bytes, freed) must never be seen, hence the rule above. A plain
 * Uint8Array of exactly `n` bytes (its own ArrayBuffer, never a pooled one); zeroed where the
 * runtime has no `Buffer` (a browser), or when short.
 */
export function uninitializedBytes(n: number): Uint8Array {
  if (n < LONG_BYTES || nodeBuffer === undefined) return new Uint8Array(n);
  const b = nodeBuffer.allocUnsafeSlow(n);
  return new Uint8Array(b.buffer, b.byteOffset, n);
}
