import { FrameError, frameBodyLength, type FrameSpec } from '@skein/core';

/** Receives one frame; returns false to stop reading the message here (pause, close). */
export type FrameSink = (header: Uint8Array, body: Uint8Array) => boolean;

/**
 * Hands the whole frames of `message`, from byte `at`, to `sink`, as views into `message` (the
 * caller owns a fresh buffer per message, so the views stay valid). Returns where it stopped:
 * `message.length` when every frame was read. A frame never spans messages, so a message that
 * ends mid-frame is a FrameError.
 */
export function readFrames(message: Uint8Array, at: number, spec: FrameSpec, sink: FrameSink): number {
  const end = message.length;
  const hl = spec.headerLength;
  while (at < end) {
    if (end - at < hl) throw midFrame(hl, end - at);
    const header = message.subarray(at, at + hl);
    const bodyStart = at + hl;
    const len = frameBodyLength(spec, header);
    if (len > end - bodyStart) throw midFrame(hl + len, end - at);
    at = bodyStart + len;
    if (!sink(header, message.subarray(bodyStart, at))) return at;
  }
  return at;
}

function midFrame(need: number, have: number): FrameError {
  return new FrameError(`message ends mid-frame (frame needs ${need} bytes, message has ${have} left)`);
}
