import type { Address, FrameSpec } from '@skein/core';

/**
 * The framing of the checks that open a listener of their own (frame-bounds, abrupt-close): a
 * 4-byte big-endian body length, then the body. Not the protocol's, so that what they send is
 * no call a server's limits judge.
 */
export const OWN_SPEC: FrameSpec = {
  headerLength: 4,
  bodyLength(bytes: Uint8Array, at: number): number {
    return new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0);
  },
};

/** A frame of `total` bytes (header included) in OWN_SPEC's framing, its body filled with `fill`. */
export function frameOf(total: number, fill: number): Uint8Array {
  const frame = new Uint8Array(total).fill(fill);
  new DataView(frame.buffer).setUint32(0, total - OWN_SPEC.headerLength);
  return frame;
}

/** Where such a check listens: the suite's host on a port of its own, or a path next to the suite's. */
export function ownAddress(at: Address): Address {
  return 'path' in at ? { ...at, path: `${at.path}.frames` } : { ...at, port: 0 };
}
