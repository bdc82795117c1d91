/**
 * @skein/codec-cbor: a `Codec` (from @skein/core) on `cbor-x`. A codec turns a call's argument,
 * result or custom error into bytes and back; the stream layer never looks inside them. Every
 * message decodes on its own (no records, no shared structures), byte strings stay plain,
 * bignums decode in linear time (bignum-tags.ts), Errors with no stack trace and RegExps only
 * when asked (generic-objects.ts), and values shared by reference (tags 29 and 51) are refused
 * (shared-values.ts), so a hostile message cannot stall a server, nor make a value far larger
 * than its bytes.
 * A message nesting deeper than `maxDepth` (100 by default) is refused by a scan of its headers
 * before cbor-x, which recurses, reads it, and a value as deep is refused on encode (depth-scan.ts); one of more than `maxContainers` arrays, maps and
 * tags likewise (container-scan.ts), and one whose maps hold more than `maxMapKeys` keys in all
 * (map-keys.ts). Plain values (numbers, strings, arrays and plain
 * objects of them) skip cbor-x: fast-encode.ts and fast-decode.ts write and read the same bytes
 * without its per-message work, and hand it anything else.
 */

// ── What an application passes where a Codec is expected ─────────────────────────────────
export { cbor, cborCodec } from './cbor-codec.js';
export type { CborOptions } from './cbor-codec.js';
