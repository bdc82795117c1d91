/** cbor-x's record and bundled-string tags (cborx-records.ts), which it reads its own way. */
const FIRST_RECORD_TAG = 0xdff9;
const BUNDLED_STRINGS = 0xdff9;
const RECORD_DEFINITIONS = 0xdffe;
const RECORD_INLINE = 0xdfff;
const LEGACY_RECORD = 105;

/**
 * For a walk of a message's heads that skips strings by their length (shared-values.ts,
 * container-scan.ts), where cbor-x reads a head after a tag its own way. After a tag of 0xdff9
 * up, once a record may be defined (by tag 0xdfff or 0xdffe, or 105 around its array), cbor-x
 * reads the next head as an array's length whatever its major type, and with no bytes for an
 * argument of 8 bytes: a byte string's head there (0x44, 0x5b) had a walk skip bytes that
 * cbor-x read as values. So that head must be a definite array's, which both read alike; bundled
 * strings (0xdff9), where cbor-x jumps about the message, are refused. `next` is the byte after
 * the tag's head; returns whether a record may be defined from here on.
 */
export function followTag(tag: number, next: number | undefined, records: boolean): boolean {
  if (tag === LEGACY_RECORD) return true;
  if (tag < FIRST_RECORD_TAG) return records;
  const defines = records || tag === RECORD_INLINE || tag === RECORD_DEFINITIONS;
  const arrayHead = next !== undefined && next >> 5 === 4 && (next & 31) <= 26;
  if (tag === BUNDLED_STRINGS) throw new Error(`tag ${tag}: cbor-x's bundled strings, not read in a message this codec scans`);
  if (defines && !arrayHead) throw new Error(`tag ${tag}: a form of cbor-x's records this codec does not read (the head after it is not a definite array's)`);
  return defines;
}
