import { decodeError, encodeError, invalidArgument, plainBytes, type Codec } from '@skein/core';
import { Decoder, Encoder, type Options } from 'cbor-x';
import { installLinearBignums } from './bignum-tags.js';
import { DepthScan } from './depth-scan.js';
import { SMALL, SmallMessages } from './small-messages.js';

export interface CborOptions {
  /**
   * Write each map header in its smallest form ("preferred serialization", RFC 8949 §4.2.1).
   * Default false: cbor-x writes every object's header with a 16-bit count (2 more bytes for a
   * small object), which lets it count the keys as it goes and is faster.
   */
  variableMapSize?: boolean;
  /**
   * How many levels deep a value may nest in a message received, the message itself being
   * level 1 (with 2, `[1]` and `[[]]` pass, `[[1]]` does not); deeper is a Decode error. Arrays,
   * maps and tags each count: a Set (tag 258 around an array) holds its values two levels below
   * it; a cbor-x record is one level. Messages longer than maxDepth bytes are scanned for it
   * before cbor-x reads them (about 20 % more decode time for them). Default `Infinity`: no scan,
   * and cbor-x's own bound, the stack (about 2,200 levels, then a Decode error at once, nothing
   * held), already keeps hostile nesting cheap; set it (100 is the MessagePack codec's default)
   * to hold every message to a depth. Encoding has no limit but the stack.
   */
  maxDepth?: number;
}

/** A CBOR codec. Each call makes its own cbor-x Encoder (which also decodes). */
export function cbor(options: CborOptions = {}): Codec {
  installLinearBignums();
  const depth = new DepthScan(checkMaxDepth(options.maxDepth ?? Infinity));
  const settings: Options = {
    // Records and shared structures make a message depend on state from earlier ones: a peer
    // must be able to decode any single message.
    useRecords: false,
    // CBOR maps decode as plain objects; a JS Map is written with tag 259 and decodes as a Map.
    mapsAsObjects: true,
    // A plain byte string, which every CBOR decoder reads, instead of cbor-x's default under
    // Node of tagging Uint8Array with tag 64.
    tagUint8Array: false,
    variableMapSize: options.variableMapSize ?? false,
  };
  const encoder = new Encoder(settings);
  const small = new SmallMessages(new Decoder({ ...settings, copyBuffers: true }));
  return {
    name: 'cbor',
    encode(value: unknown): Uint8Array {
      try {
        // No copy needed: cbor-x never writes over bytes it has returned. The next encode
        // starts after them in the same buffer, or in a new one when that is nearly full.
        return plainBytes(encoder.encode(value));
      } catch (e) {
        throw encodeError('cbor', e);
      }
    },
    decode(bytes: Uint8Array): unknown {
      try {
        depth.check(bytes);
        return bytes.length <= SMALL && !small.busy ? small.decode(bytes) : encoder.decode(plainBytes(bytes));
      } catch (e) {
        throw decodeError('cbor', e);
      }
    },
  };
}

function checkMaxDepth(maxDepth: number): number {
  if (!(Number.isSafeInteger(maxDepth) || maxDepth === Infinity) || maxDepth < 1) {
    throw invalidArgument(`cbor: maxDepth must be an integer of 1 or more, or Infinity, got ${maxDepth}`);
  }
  return maxDepth;
}

/** The codec with default options, ready to pass where a Codec is expected. */
export const cborCodec: Codec = cbor();
