import { FrameError } from '@skein/core';

/** A frame header that does not begin with the protocol's magic: its two bytes kept, for a reader that explains them. */
export class BadMagic extends FrameError {
  constructor(readonly magic: number) {
    super(`bad magic 0x${magic.toString(16).padStart(4, '0')}`);
  }

  /** The two bytes as text when both are printable ASCII (`HT` from an HTTP server), else undefined. */
  get text(): string | undefined {
    const lo = this.magic & 0xff;
    const hi = this.magic >> 8;
    return printable(lo) && printable(hi) ? String.fromCharCode(lo, hi) : undefined;
  }
}

const printable = (b: number): boolean => b >= 0x20 && b < 0x7f;
