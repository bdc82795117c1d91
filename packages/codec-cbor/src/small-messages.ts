import type { Decoder } from 'cbor-x';

/** Messages up to this size are decoded from SmallMessages' buffer. */
export const SMALL = 256;

/**
 * Decodes small messages from one reused buffer, through one view per length. cbor-x keeps the
 * DataView it reads a source with on the source itself, so a reused view costs no allocation;
 * a fresh view per message costs a view, a DataView and a new property on it — more than
 * decoding a small message does. Byte strings are copied out (copyBuffers), since the buffer
 * is overwritten by the next message.
 */
export class SmallMessages {
  /** True during a decode: a nested one (from a tag's decoder) must not overwrite the buffer. */
  busy = false;
  private readonly scratch = new Uint8Array(SMALL);
  private readonly views: Uint8Array[] = [];

  constructor(private readonly decoder: Decoder) {}

  decode(bytes: Uint8Array): unknown {
    const n = bytes.length;
    const view = (this.views[n] ??= new Uint8Array(this.scratch.buffer, 0, n));
    this.scratch.set(bytes);
    this.busy = true;
    try {
      return this.decoder.decode(view);
    } finally {
      this.busy = false;
    }
  }
}
