/** The first of cbor-x's own tags: from here up, a tag may name a record defined before it. */
const FIRST_RECORD_TAG = 0xdff9;
/** A record's definition, inline: [id, keys, ...values]. */
const RECORD_INLINE = 0xdfff;
/** Record ids are 0xe000 plus an index below 0x2000; a tag names a record by the index's bits. */
const RECORD_ID_BASE = 0xe000;
const LEGACY_RECORD = 105;

/**
 * cbor-x's records, as a default cbor-x Encoder writes them (so its peers are read): tag 0xdfff
 * around an array `[id, keys, ...values]` defines a record and is one object; a later tag of
 * that id around an array of values is another. cbor-x reads a record's values in the tag's
 * own level, so the tag and its array count one level. The scan must know which ids are
 * defined, and from which point, to read the bytes as cbor-x does. cbor-x's other forms (tags
 * 0xdff9 bundled strings, 0xdffe definitions, the legacy 105, an id or a header of another
 * kind) it reads in ways the scan does not follow, and a message holding one is refused.
 */
export class CborxRecords {
  /** The indexes defined so far in the message (cbor-x starts each message with none). */
  private readonly defined = new Uint8Array(0x2000);
  private any = false;
  /** The index a definition defines once its keys are read: when its level has `pendingLeft` items left. */
  private pendingIndex = -1;
  private pendingLeft = 0;
  /** The scan's level of the definition under way, -1 for none. */
  pendingLevel = -1;
  /** Where the record's array ends its header (and, for a definition, its id). */
  pos = 0;
  /** How many items follow in the record's level. */
  items = 0;

  reset(): void {
    if (this.any) this.defined.fill(0);
    this.any = false;
    this.pendingIndex = -1;
    this.pendingLevel = -1;
  }

  /** True for a tag cbor-x reads its own way: a record, or one of its other forms. */
  isRecordTag(tag: number): boolean {
    return tag >= FIRST_RECORD_TAG || tag === LEGACY_RECORD;
  }

  /**
   * Reads the array header (and a definition's id) after a record tag at `pos`, setting `pos`
   * and `items`; false for a tag of 0xdff9 up that cbor-x reads as any other tag. Throws for a
   * form the scan does not follow. `level` is the scan's level for the record's items.
   */
  open(tag: number, bytes: Uint8Array, pos: number, level: number): boolean {
    // cbor-x looks for a defined record first, whatever the tag.
    const reference = tag >= FIRST_RECORD_TAG && this.defined[tag & 0x1fff] === 1;
    if (!reference && tag !== RECORD_INLINE) {
      if (tag === 0xdff9 || tag === 0xdffe || tag === LEGACY_RECORD) throw unfollowed(tag);
      return false;
    }
    this.items = arrayLength(bytes, pos, tag);
    this.pos = pos + headerBytes(bytes[pos]!);
    if (reference) return true;
    // A definition: its id a uint 16 of 0xe000 up, its keys an array, as cbor-x writes them.
    const at = this.pos;
    if (at + 4 > bytes.length) throw truncated();
    if (this.items < 2 || this.pendingIndex !== -1 || bytes[at] !== 0x19 || bytes[at + 1]! < 0xe0 || bytes[at + 3]! >> 5 !== 4) {
      throw unfollowed(tag);
    }
    const id = (bytes[at + 1]! << 8) | bytes[at + 2]!;
    this.pos += 3;
    this.items -= 1; // the id, read here
    this.pendingIndex = id - RECORD_ID_BASE;
    this.pendingLeft = this.items - 1; // defined once the keys are read, before the values
    this.pendingLevel = level;
    return true;
  }

  /** Called as each item of the definition's level (pendingLevel) completes, with the items it has left. */
  itemRead(left: number): void {
    if (left !== this.pendingLeft) return;
    this.defined[this.pendingIndex] = 1;
    this.any = true;
    this.pendingIndex = -1;
    this.pendingLevel = -1;
  }
}

/** A definite array header's count, as cbor-x reads it after a record tag. */
function arrayLength(bytes: Uint8Array, pos: number, tag: number): number {
  const head = bytes[pos];
  if (head === undefined) throw truncated();
  const info = head & 31;
  if (head >> 5 !== 4 || info > 26) throw unfollowed(tag);
  if (info < 24) return info;
  let length = 0;
  for (let i = 1; i <= 1 << (info - 24); i++) length = length * 256 + (bytes[pos + i] ?? 0);
  return length;
}

function headerBytes(head: number): number {
  const info = head & 31;
  return info < 24 ? 1 : 1 + (1 << (info - 24));
}

const truncated = (): Error => new Error('Unexpected end of CBOR data');
const unfollowed = (tag: number): Error => new Error(`tag ${tag}: a form of cbor-x's records or bundled strings this codec does not read`);
