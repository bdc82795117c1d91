// Short byte runs, handled the way the engine handles them fastest. They are the per-call byte
// work of the data path: a message taken out of a received frame, a header copied into a batch.
// V8 (Node, Deno) makes views and `set` copies in fast builtins. JavaScriptCore (Bun) makes them
// in its C++ runtime, where a view of a received chunk, or a `set` of a few bytes, costs more
// than copying the bytes in JIT-compiled code: Skein's echo on Bun went from ~477 to ~380 ns per
// call (client and server in one process, best of 5), while on Node the copies were slower than
// the views (385 against 443 ns). docs/benchmarks.md has the end-to-end figures.

/**
 * The one empty byte array for an absent message or blob: shared, so an empty part costs no
 * allocation. Never written to (it has no bytes to write).
 */
export const EMPTY_BYTES: Uint8Array = new Uint8Array(0);

/** Pieces up to this long are copied by JavaScript code where the engine favours it. */
export const SHORT_BYTES = 64;

/** How one engine takes a piece out of received bytes and copies a part into a batch. */
export interface ByteOps {
  /**
   * `bytes[from, to)` as a plain Uint8Array the caller may keep and hand on: a view (no copy),
   * or a copy of a short piece (which also lets the received chunk go sooner).
   */
  take(bytes: Uint8Array, from: number, to: number): Uint8Array;
  /** Copies all of `src` into `dst` at `at`, as `dst.set(src, at)` but for overlapping memory, which no caller has. */
  put(dst: Uint8Array, at: number, src: Uint8Array): void;
}

const view = (bytes: Uint8Array, from: number, to: number): Uint8Array =>
  new Uint8Array(bytes.buffer, bytes.byteOffset + from, to - from);

/**
 * The same bytes as a plain Uint8Array view (no copy): what runtimes and transports hand on
 * instead of a Node Buffer, and what codecs decode from when their library returns binary fields
 * as views of its input. A Buffer's `slice` shares memory where Uint8Array's copies.
 */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array ? bytes : view(bytes, 0, bytes.byteLength);
}

/** Views and builtin copies: what V8 does fastest. */
export const builtinByteOps: ByteOps = {
  take: view,
  put: (dst, at, src) => dst.set(src, at),
};

/** Short pieces copied in JavaScript, longer ones as `builtinByteOps`: what JavaScriptCore does fastest. */
export const scriptedByteOps: ByteOps = {
  take(bytes, from, to) {
    const n = to - from;
    if (n > SHORT_BYTES) return view(bytes, from, to);
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = bytes[from + i]!;
    return out;
  },
  put(dst, at, src) {
    const n = src.length;
    if (n > SHORT_BYTES) return dst.set(src, at);
    for (let i = 0; i < n; i++) dst[at + i] = src[i]!;
  },
};

/** The engine's way, picked once: JavaScriptCore under Bun, V8 everywhere else we run. */
const ops: ByteOps = typeof (globalThis as { Bun?: unknown }).Bun === 'undefined' ? builtinByteOps : scriptedByteOps;

/**
 * `bytes[from, to)` out of a received frame, to keep and hand on (a message, a blob): a view, or
 * a copy of a short piece on an engine that copies faster than it views. Either way a plain
 * Uint8Array that no one writes to afterwards.
 */
export const takeBytes = ops.take;

/** `dst.set(src, at)`, done in JavaScript for a short `src` on an engine where that is faster. */
export const putBytes = ops.put;
