import { DecodeError, type Decoder } from '@msgpack/msgpack';
import { replaceMethod } from './private-methods.js';

type ReadHeadByte = (this: Decoder) => number;
type Decode = (this: Decoder, bytes: Uint8Array) => unknown;

/** The default `maxContainers`: a message makes at most 1 Mi objects (85 MB of empty maps), whatever its size. */
export const DEFAULT_MAX_CONTAINERS = 1 << 20;

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
  new DecodeError(`more than maxContainers (${maxContainers}) arrays, maps, byte strings and extension values in one message; raise the codec's maxContainers option to read it`);

/**
 * How many arrays, maps, byte strings and extension values (empty ones too) one message may make: without a
 * bound, a 16 MiB message of empty maps (one byte each) made 16.7 million objects, blocked the
 * event loop 29 s and left 1 GB of heap, and four at once ran a server out of memory.
 *
 * The library makes an empty array or map inline, with no method to hook, so the count is taken
 * where every value starts: the head byte. One count serves a decoder and those of the
 * extension payloads it reads (nesting.ts), so a Map's pairs count with the message around it.
 */
export class ContainerBudget {
  /** Containers the message being read may still make. */
  private left = 0;

  constructor(readonly maxContainers: number) {}

  /** Makes `decoder` count the containers it reads, and refuse the one over the budget. */
  limit(decoder: Decoder): Decoder {
    const budget = this;
    replaceMethod<ReadHeadByte>(decoder, 'readHeadByte', (readHeadByte) =>
      function () {
        const head = readHeadByte.call(this);
        if (COUNTED[head] === 1 && --budget.left < 0) throw overBudget(budget.maxContainers);
        return head;
      },
    );
    return decoder;
  }

  /** Makes `decoder` the outermost one: each message it decodes starts with the whole budget. */
  outermost(decoder: Decoder): Decoder {
    const budget = this;
    replaceMethod<Decode>(decoder, 'decode', (decode) =>
      function (bytes) {
        budget.left = budget.maxContainers;
        return decode.call(this, bytes);
      },
    );
    return decoder;
  }
}
