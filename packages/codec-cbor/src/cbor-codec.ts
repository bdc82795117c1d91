import { decodeError, encodeError, plainBytes, type Codec } from '@skein/core';
import { Decoder, Encoder, type Options } from 'cbor-x';
import { installLinearBignums } from './bignum-tags.js';
import { SMALL, SmallMessages } from './small-messages.js';

export interface CborOptions {
  /**
   * Write each map header in its smallest form ("preferred serialization", RFC 8949 §4.2.1).
   * Default false: cbor-x writes every object's header with a 16-bit count (2 more bytes for a
   * small object), which lets it count the keys as it goes and is faster.
   */
  variableMapSize?: boolean;
}

/** A CBOR codec. Each call makes its own cbor-x Encoder (which also decodes). */
export function cbor(options: CborOptions = {}): Codec {
  installLinearBignums();
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
        return bytes.length <= SMALL && !small.busy ? small.decode(bytes) : encoder.decode(plainBytes(bytes));
      } catch (e) {
        throw decodeError('cbor', e);
      }
    },
  };
}

/** The codec with default options, ready to pass where a Codec is expected. */
export const cborCodec: Codec = cbor();
