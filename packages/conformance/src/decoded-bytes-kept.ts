/** The two members of a codec this check uses (codec-conformance's CodecUnderTest has them). */
interface Coder {
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

/** `length` bytes that differ from those of another `seed`. */
export function patternedFrom(length: number, seed: number): Uint8Array {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + 7 + seed * 101) & 0xff;
  return b;
}

/**
 * Decodes 200 messages that each hold a blob (1 B to 5000 B, one of 70 000 B), keeps every
 * result, and only then compares them with what was sent: returns the numbers of the messages
 * whose bytes changed. A decoder that hands out views of a scratch buffer it reuses passes
 * every round trip checked at once, and corrupts the blob a handler keeps while the next
 * message decodes.
 */
export function decodedBytesWrittenOver(codec: Coder): number[] {
  const sizes = Array.from({ length: 200 }, (_, i) => (i === 100 ? 70_000 : 1 + ((i * 131) % 5000)));
  const sent = sizes.map((n, i) => ({ i, b: patternedFrom(n, i) }));
  const decoded = sent.map((v) => codec.decode(codec.encode(v)) as { i: number; b: Uint8Array });
  return decoded.flatMap((d, i) => (Buffer.compare(d.b, sent[i]!.b) === 0 ? [] : [i]));
}
