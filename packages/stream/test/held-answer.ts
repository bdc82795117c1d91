import type { FrameConn, Transport } from '@skein/core';
import { RES_FLAG_AT, RESPONSE_HEADER_LENGTH, ResponseFlag } from '../src/wire/protocol.js';

const text = new TextDecoder();

/** A transport whose client connections hold back the server's `nth` error answer saying some words, and what follows it. */
export interface HeldAnswer {
  readonly transport: Transport;
  /** The answer came and is held (with whatever its connection sent after it). */
  readonly held: boolean;
  /** How many frames are held (the answer's among them). */
  readonly frames: number;
  /** Hands the held frames to the client now, in order, in the caller's turn; later frames go through. */
  release(): void;
}

/**
 * `base`, whose client connections hold back the `nth` (1: the first, counted over all of them)
 * error answer (a response with an error string) whose string holds `words`, and every frame
 * after it on that connection, until `release()` hands them to the client synchronously. So a test puts the client's reading of a
 * server's real answer exactly where it needs it (in an abort's listeners, just before the turn
 * ends and its microtasks run), never by timing. Only the client's reading is moved: the server
 * wrote the answer as it does.
 */
export function heldAnswer(base: Transport, words: string, nth = 1): HeldAnswer {
  let seen = 0;
  let frames = 0;
  let releaseHeld: (() => void) | undefined;
  const hold = (conn: FrameConn): FrameConn => {
    const bind = conn.bind.bind(conn);
    let kept: (() => void)[] | undefined;
    conn.bind = (handlers) =>
      bind({
        ...handlers,
        frame: (bytes, start, end) => {
          if (kept === undefined && seen < nth && says(bytes, start, end, words) && ++seen === nth) {
            kept = [];
            releaseHeld = () => {
              const frames = kept!;
              kept = undefined;
              for (const f of frames) f();
            };
          }
          if (kept === undefined) return handlers.frame(bytes, start, end);
          // A copy: the transport may read its next chunk into the same bytes meanwhile.
          const copy = bytes.slice(start, end);
          frames++;
          kept.push(() => handlers.frame(copy, 0, copy.length));
        },
      });
    return conn;
  };
  return {
    transport: {
      name: base.name,
      connect: async (...args: Parameters<Transport['connect']>) => hold(await base.connect(...args)),
      listen: (...args: Parameters<Transport['listen']>) => base.listen(...args),
    },
    get held() {
      return releaseHeld !== undefined;
    },
    get frames() {
      return frames;
    },
    release() {
      const release = releaseHeld;
      releaseHeld = undefined;
      release?.();
    },
  };
}

/** The frame at `bytes[start, end)` is a response with an error string holding `words`. */
function says(bytes: Uint8Array, start: number, end: number, words: string): boolean {
  return bytes[start + RES_FLAG_AT] === ResponseFlag.ErrorString && text.decode(bytes.subarray(start + RESPONSE_HEADER_LENGTH, end)).includes(words);
}
