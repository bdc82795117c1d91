import { followTag } from './record-heads.js';

/**
 * The tags with which cbor-x hands back one value wherever a message refers to it: 29, a shared
 * reference (http://cbor.schmorp.de/value-sharing) to the value tag 28 marked earlier, which a
 * cbor-x Encoder with `structuredClone` writes; 51, a table of packed values
 * (https://github.com/kriszyp/cbor-x, "packed"), which tag 6, the simple values 0..15 and the
 * prefix and suffix tags refer to, as a cbor-x Encoder with `pack` writes it.
 */
const SHARING = [29, 51];

const why: Record<number, string> = {
  29: 'a shared reference (as cbor-x structuredClone writes) can make a value far larger than its bytes, or a cycle',
  51: 'a table of packed values (as cbor-x pack writes) can make a value far larger than its bytes',
};

/**
 * Refuses a message holding tag 29 or 51 before cbor-x reads it. cbor-x hands back the same
 * object again at every reference, so a few bytes make a value far larger than themselves: 249
 * bytes of tag 29 made an array whose elements each hold the one before twice, 8 Mi leaves
 * from the top one (under 500 bytes, 2^40), and 565 bytes of nested packed tables as many
 * (1 Mi leaves); a recursive schema walked such a value leaf by leaf, and an echo of it had the
 * encoder write 32 MiB and more. Tag 29 also makes a cycle (`[the array itself]`), which no
 * Skein encoder writes (a cycle is an Encode error) and which a schema of a tree accepted. No
 * Skein peer writes either tag, so refusing them costs them nothing; tag 28 and tag 6 alone make
 * nothing shared and are read as before.
 *
 * cbor-x keeps its tag readers in one table for the process, and its readers of these tags read
 * state of its own, so the codec cannot replace them for its own messages only. A search for
 * the tags' bytes after a possible tag head (memchr speed) comes first; only a message where it
 * finds one is walked head by head, which tells a tag from bytes inside a string.
 */
export function refuseSharedValues(bytes: Uint8Array): void {
  if (!mayHoldSharing(bytes)) return;
  const tag = sharingTag(bytes);
  if (tag !== -1) throw new Error(`tag ${tag} not read: ${why[tag]}`);
}

/**
 * True for every message with a tag 29 or 51 head, and for some others: their heads are 0xd8
 * then the tag (0xd9 0x00 then the tag, and longer forms, which cbor-x reads too, end 0x00 then
 * the tag).
 */
function mayHoldSharing(bytes: Uint8Array): boolean {
  for (const tag of SHARING) {
    for (let at = bytes.indexOf(tag, 1); at !== -1; at = bytes.indexOf(tag, at + 1)) {
      const before = bytes[at - 1];
      if (before === 0xd8 || before === 0x00) return true;
    }
  }
  return false;
}

/**
 * The first head of the message, read one after the other as cbor-x reads them (each followed
 * by its argument, then a string's bytes), that is tag 29 or 51; -1 for none. Malformed bytes
 * past the end of a head read as 0: cbor-x refuses such a message anyway.
 */
function sharingTag(bytes: Uint8Array): number {
  const end = bytes.length;
  let pos = 0;
  // Whether a record may be defined by now: from then on any tag of 0xdff9 up may name one.
  let records = false;
  while (pos < end) {
    const head = bytes[pos++]!;
    const major = head >> 5;
    let arg = head & 31;
    if (arg >= 24) {
      // 28..30 reserved, 31 indefinite or a break: no argument follows.
      if (arg > 27) continue;
      const width = 1 << (arg - 24);
      arg = 0;
      for (let i = 0; i < width; i++) arg = arg * 256 + (bytes[pos++] ?? 0);
    }
    if (major === 6 && (arg === 29 || arg === 51)) return arg;
    // A head cbor-x reads its own way after a record's tag: refused unless read alike here.
    if (major === 6) records = followTag(arg, bytes[pos], records);
    // A definite string's bytes; a float's (major 7) were read above as its argument.
    if (major === 2 || major === 3) pos += arg;
  }
  return -1;
}
