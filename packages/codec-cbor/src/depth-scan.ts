import { CborxRecords } from './cborx-records.js';
import { tooManyKeys } from './map-keys.js';

/**
 * The default `maxDepth`, the MessagePack codec's: one name, one meaning, one default across
 * the codecs. cbor-x reads by recursion and has no bound but the stack, which varied from about
 * 2,200 levels (cold) to over 10,000 (its reader optimized) and was met again on the way back:
 * cbor-x's encoder overflowed at about 2,000, so a value a server read could not be echoed.
 */
export const DEFAULT_MAX_DEPTH = 100;

/** What `left` is for an indefinite-length array: it ends at a break (0xff), not a count. */
const INDEFINITE = -1;
/** What `left` is for an indefinite-length map, whose items (keys and values) are counted for maxMapKeys. */
const INDEFINITE_MAP = -2;
/** Levels the stack has room for at first; a deeper message grows it, up to maxDepth. */
const INITIAL_LEVELS = 128;

const truncated = (): Error => new Error('Unexpected end of CBOR data');
const invalid = (head: number): Error => new Error(`Invalid CBOR header byte 0x${head.toString(16)}`);
const tooDeep = (maxDepth: number): Error => new RangeError(`values nested deeper than maxDepth (${maxDepth})`);

/** What `left` is for an indefinite-length array or map `head` opens; throws for any other indefinite-length head. */
function indefiniteItems(head: number): number {
  const major = head >> 5;
  if (major !== 4 && major !== 5) throw invalid(head);
  return major === 5 ? INDEFINITE_MAP : INDEFINITE;
}

/**
 * Refuses a message whose values nest more than `maxDepth` levels deep, the message itself
 * being level 1, before cbor-x reads it. cbor-x reads by recursion, with no depth limit of its
 * own: it reads what the stack allows (about 2 200 levels of arrays from an empty stack, fewer
 * from deep in a server), and hands a value that deep to the application.
 *
 * The scan reads only headers, and skips strings by their length. A message of n bytes nests at
 * most n levels (each takes a header byte), so a message of at most maxDepth bytes is not
 * scanned: the small messages RPC carries cost nothing more. Arrays, maps and tags each count a
 * level, as cbor-x recurses into each; a cbor-x record counts one (cborx-records.ts).
 */
export class DepthScan {
  /** Items left in each level around the one being read, outermost first. */
  private stack: Int32Array = new Int32Array(INITIAL_LEVELS);
  private readonly records = new CborxRecords();

  constructor(
    readonly maxDepth: number,
    readonly maxMapKeys = Infinity,
  ) {}

  /**
   * Throws when `bytes` nests too deep, holds maps of more than maxMapKeys keys in all, or is
   * not one whole CBOR value. `indefiniteMaps`: ContainerScan found an indefinite-length map in
   * it, whose keys only this walk counts (it counts those of definite-length maps by their
   * headers), so the message is walked whatever its length.
   */
  check(bytes: Uint8Array, indefiniteMaps: boolean): void {
    // Small enough for V8 to inline where it is called: a small message costs no call.
    if (bytes.length > this.maxDepth || indefiniteMaps) this.scan(bytes);
  }

  /**
   * One walk over the message's heads, as one loop: its state (where it reads, the levels open,
   * the items left in the innermost, the map items left) stays in locals, not fields. Reading a
   * head's argument and its items in helpers of their own made a scan about a tenth slower
   * (DepthScan.check timed against this loop, interleaved in one process), so only the rarer
   * steps (opening a level, an indefinite-length head) are helpers, taking arguments.
   */
  private scan(bytes: Uint8Array): void {
    const end = bytes.length;
    let stack = this.stack;
    const records = this.records;
    records.reset();
    let pos = 0;
    let open = 0; // levels around the next item, which is at level open + 1
    let left = 1; // items left in the innermost level: the message is one
    let mapItemsLeft = 2 * this.maxMapKeys; // keys and values the maps may still hold
    for (;;) {
      if (pos >= end) throw truncated();
      const head = bytes[pos++]!;
      let items = 0; // of the level this head opens: none for a scalar, a string or a break
      if ((head & 31) === 31) {
        if (head === 0xff) {
          // A break ends the indefinite-length item around it, which is then complete.
          if (left >= 0) throw invalid(head);
          left = stack[--open]!;
        } else {
          items = indefiniteItems(head);
          if (bytes[pos] === 0xff) {
            pos++; // empty: no level opens
            items = 0;
          }
        }
      } else {
        let arg = head & 31;
        if (arg >= 24) {
          if (arg > 27) throw invalid(head);
          const width = 1 << (arg - 24);
          if (width > end - pos) throw truncated();
          arg = 0;
          for (let i = 0; i < width; i++) arg = arg * 256 + bytes[pos++]!;
        }
        const major = head >> 5;
        if (major === 2 || major === 3) {
          if (arg > end - pos) throw truncated();
          pos += arg;
        } else if (major === 4) {
          items = arg;
        } else if (major === 5) {
          items = 2 * arg;
          if ((mapItemsLeft -= items) < 0) throw tooManyKeys(this.maxMapKeys);
        } else if (major === 6) {
          items = 1;
          if (records.isRecordTag(arg) && records.open(arg, bytes, pos, open + 1)) {
            pos = records.pos;
            items = records.items;
          }
        }
        // Each item takes a byte at least: a longer claim is truncated (cbor-x says so too).
        if (items > end - pos) throw truncated();
      }
      if (items !== 0) {
        stack = this.deeper(stack, open);
        stack[open++] = left;
        left = items;
        continue;
      }
      // An item is complete, and may complete the levels around it.
      while (left >= 0) {
        left--;
        if (open === records.pendingLevel) records.itemRead(left);
        if (left !== 0) break;
        if (open === 0) {
          if (pos !== end) throw new Error('Data read, but end of buffer not reached');
          return;
        }
        left = stack[--open]!;
      }
      // A key or a value of an indefinite-length map: counted as it completes, where a
      // definite-length map's are counted at its header.
      if (left === INDEFINITE_MAP && --mapItemsLeft < 0) throw tooManyKeys(this.maxMapKeys);
    }
  }

  /** The stack with room for one more level around the level `open`: refused past maxDepth. */
  private deeper(stack: Int32Array, open: number): Int32Array {
    if (open + 2 > this.maxDepth) throw tooDeep(this.maxDepth);
    return open === stack.length ? this.grow() : stack;
  }

  private grow(): Int32Array {
    const larger = new Int32Array(Math.min(this.stack.length * 2, this.maxDepth));
    larger.set(this.stack);
    return (this.stack = larger);
  }
}
