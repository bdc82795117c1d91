import { DecodeError, type Decoder } from '@msgpack/msgpack';
import { keyCache, MAX_KEY_BYTES } from './key-cache.js';
import { replaceMethod, requireMethods } from './private-methods.js';

type ReadHeadByte = (this: Decoder) => number;
type DecodeUtf8String = (this: Decoder, byteLength: number, headerOffset: number) => string;
/** The library's private view of its decoder's state, for the one question the hook asks. */
type KeyState = { stateIsMapKey(): boolean };

/**
 * The default `maxContainers`: a message makes at most 1 Mi objects (85 MB of empty maps, 53 MB
 * of 2-character strings), whatever its size. Messages of up to 1 MiB never reach it (each
 * counted value takes a byte at least), and the realistic payloads measured count one object
 * per 4 bytes or more: only such a message of 4 MiB or more does (the README gives the figures;
 * `benchmarks/codec-containers.js` measures them).
 */
export const DEFAULT_MAX_CONTAINERS = 1 << 20;

/**
 * Text strings of this many bytes or more count. Shorter ones cost no allocation: V8 returns
 * the one empty string, and its own single-character string for the one Latin-1 character both
 * decoders read a 1-byte string as (invalid UTF-8 too). 2-byte ones read as one Latin-1
 * character (é) are V8's too, but count, as the wire length is all the count looks at.
 */
export const MIN_COUNTED_TEXT = 2;

/**
 * 1 for the head bytes of a value the decoder makes an object for: fixmap and fixarray
 * (0x80..0x9f), array 16/32 and map 16/32 (0xdc..0xdf), bin 8/16/32 (0xc4..0xc6: a Uint8Array
 * each, two bytes for an empty one: 8.4 million of them in 16 MiB made 900 MB of heap), and the
 * extensions (fixext 0xd4..0xd8, ext 8/16/32 0xc7..0xc9: a Map, a Set, a Date or an ExtData).
 */
const COUNTED = new Uint8Array(256);
for (let head = 0x80; head < 0xa0; head++) COUNTED[head] = 1;
for (const head of [0xdc, 0xdd, 0xde, 0xdf, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8]) COUNTED[head] = 1;

/** The error both paths throw for a message of more than `maxContainers` containers (the codec makes it a Decode error). */
export const overBudget = (maxContainers: number): DecodeError =>
  new DecodeError(`more than maxContainers (${maxContainers}) arrays, maps, byte strings, text strings and extension values in one message; raise the codec's maxContainers option to read it`);

/**
 * How many objects one message may make: arrays, maps, byte strings and extension values (empty
 * ones too), and new strings. Without a bound, a 16 MiB message of empty maps (one byte each)
 * made 16.7 million objects, blocked the event loop 29 s and left 1 GB of heap, and one of 5.6
 * million 2-character strings took 2 s of CPU and held 240 MB.
 *
 * The library makes an empty array or map inline, with no method to hook, so containers are
 * counted where every value starts: the head byte. Text strings are counted where the library
 * reads one, which knows its length: those of MIN_COUNTED_TEXT bytes or more, except map keys
 * of 1 to MAX_KEY_BYTES bytes, which count only when the key cache (key-cache.ts) reads them
 * anew; a key it holds is no new object. The fast path counts the same (fast-decode.ts). One
 * count serves a decoder and those of the extension payloads it reads (nesting.ts), so a Map's
 * pairs count with the message around it.
 */
export class ContainerBudget {
  /** Containers the message being read may still make: set at its start (library-values.ts). */
  left = 0;

  constructor(readonly maxContainers: number) {}

  /** Makes `decoder` count the containers and new strings it reads, and refuse the one over the budget. */
  limit(decoder: Decoder): Decoder {
    const budget = this;
    replaceMethod<ReadHeadByte>(decoder, 'readHeadByte', (readHeadByte) =>
      function () {
        const head = readHeadByte.call(this);
        if (COUNTED[head] === 1 && --budget.left < 0) throw overBudget(budget.maxContainers);
        return head;
      },
    );
    requireMethods(decoder, ['stateIsMapKey']);
    replaceMethod<DecodeUtf8String>(decoder, 'decodeUtf8String', (decodeUtf8String) =>
      function (byteLength, headerOffset) {
        if (byteLength > 0 && byteLength <= MAX_KEY_BYTES && (this as unknown as KeyState).stateIsMapKey()) {
          const misses = keyCache.misses;
          const key = decodeUtf8String.call(this, byteLength, headerOffset);
          if (keyCache.misses !== misses && --budget.left < 0) throw overBudget(budget.maxContainers);
          return key;
        }
        if (byteLength >= MIN_COUNTED_TEXT && --budget.left < 0) throw overBudget(budget.maxContainers);
        return decodeUtf8String.call(this, byteLength, headerOffset);
      },
    );
    return decoder;
  }
}
