/**
 * @skein/codec-msgpack: a `Codec` (from @skein/core) on `@msgpack/msgpack`, the codec razor-rpc
 * peers speak. A codec turns a call's argument, result or custom error into bytes and back; the
 * stream layer never looks inside them. Each `msgpack()` has its own encoder and decoder, made
 * once and reused for every message (no allocation per call beyond the bytes themselves).
 * Integral numbers within ±(2^53-1) travel as msgpack integers and come back as numbers, larger
 * ones as bigints both ways (safe-integers.ts); extension types are opt-in. Plain values (the
 * small objects RPC calls carry) take a hand-written fast path that writes the library's exact
 * bytes and reads its exact values (fast-encode.ts, fast-decode.ts); anything else goes through
 * the library (library-coders.ts): a whole value to encode, and each value within a message
 * that the fast decoder does not read itself (library-values.ts), the rest read once. Both
 * paths refuse values nested deeper than `maxDepth` (decode-depth.ts and encode-depth.ts for
 * the library's coders), messages of more than `maxContainers` arrays, maps and extension
 * values (container-budget.ts) and maps of more than `maxMapKeys` keys in all (map-keys.ts),
 * and the library's decoders hold no message after reading it
 * (message-release.ts).
 */

// ── What an application passes where a Codec is expected ─────────────────────────────────
export { msgpack, msgpackCodec } from './msgpack-codec.js';
export type { MsgpackOptions } from './msgpack-codec.js';
export type { ExtensionTypes } from './extension-types.js';
