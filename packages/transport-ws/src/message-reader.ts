import { FrameError, frameBodyLength, type FrameSink, type FrameSpec } from '@skein/core';

/**
 * Hands the whole frames of `message`, from byte `at`, to `sink`, as places in `message` (the
 * caller owns a fresh buffer per message, so views of it stay valid). Returns where it stopped:
 * `message.length` when every frame was read. A frame never spans messages, so a message that
 * ends mid-frame is a FrameError.
 */
export function readFrames(message: Uint8Array, at: number, spec: FrameSpec, sink: FrameSink): number {
  const end = message.length;
  const hl = spec.headerLength;
  while (at < end) {
    if (end - at < hl) throw midFrame(hl, end - at);
    const start = at;
    const len = frameBodyLength(spec, message, start);
    if (len > end - start - hl) throw midFrame(hl + len, end - start);
    at = start + hl + len;
    if (!sink(message, start, at)) return at;
  }
  return at;
}

function midFrame(need: number, have: number): FrameError {
  return new FrameError(`message ends mid-frame (frame needs ${need} bytes, message has ${have} left)`);
}
