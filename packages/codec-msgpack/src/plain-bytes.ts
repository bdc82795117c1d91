/**
 * The same bytes as a plain Uint8Array view (no copy). Node transports hand over Buffers, and
 * the library returns binary fields as views of its input: without this they would arrive as
 * Buffers, whose `slice` shares memory where Uint8Array's copies.
 */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.constructor === Uint8Array) return bytes;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
