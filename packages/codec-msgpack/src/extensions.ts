import { invalidArgument } from '@skein/core';
import {
  DecodeError,
  EXT_TIMESTAMP,
  decodeTimestampExtension,
  encodeTimestampExtension,
  ExtensionCodec,
  type Decoder,
  type Encoder,
  type ExtensionCodecType,
} from '@msgpack/msgpack';
import type { ExtensionTypes } from './extension-types.js';
import type { Nesting } from './nesting.js';

export function checkExtensionTypes(types: ExtensionTypes): ExtensionTypes {
  for (const [name, type] of Object.entries(types)) {
    if (!Number.isInteger(type) || type < 0 || type > 127) {
      throw invalidArgument(`msgpack: extension type for ${name} must be an integer in 0..127, got ${type}`);
    }
  }
  if (types.set === types.map) throw invalidArgument(`msgpack: Set and Map share extension type ${types.set}`);
  return types;
}

/**
 * Date as the standard timestamp extension (-1), refusing invalid dates; Map as an array of
 * [key, value] pairs and Set as an array of values, each in its own extension type; an
 * ArrayBuffer refused. Without these the library writes a Map, a Set or an ArrayBuffer as an
 * empty map, and an invalid Date as 1970-01-01.
 */
export function skeinExtensions(
  types: ExtensionTypes,
  encoders: Nesting<Encoder>,
  decoders: Nesting<Decoder>,
): ExtensionCodecType<undefined> {
  const encodeNested = (value: unknown): Uint8Array =>
    // A view of the nested encoder's buffer is enough: the outer encoder copies it at once.
    encoders.run((encoder) => encoder.encodeSharedRef(value));
  const decodeNested = (data: Uint8Array): unknown => decoders.run((decoder) => decoder.decode(data));

  const codec = new ExtensionCodec();
  codec.register({ type: EXT_TIMESTAMP, encode: encodeDate, decode: decodeTimestampExtension });
  codec.register({
    type: types.map,
    encode: (value) => (value instanceof Map ? encodeNested([...value]) : null),
    decode: (data) => new Map(pairsOf(decodeNested(data))),
  });
  codec.register({
    type: types.set,
    encode: (value) => (value instanceof Set ? encodeNested([...value]) : null),
    decode: (data) => new Set(arrayOf(decodeNested(data), 'Set')),
  });
  return {
    tryToEncode(value, context) {
      if (isArrayBuffer(value)) throw new TypeError('an ArrayBuffer is not sent as bytes: wrap it in a Uint8Array');
      return codec.tryToEncode(value, context);
    },
    decode: (data, type, context) => codec.decode(data, type, context),
  };
}

const isArrayBuffer = (value: unknown): boolean =>
  value instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && value instanceof SharedArrayBuffer);

function encodeDate(value: unknown): Uint8Array | null {
  if (!(value instanceof Date)) return null;
  // The library would write an invalid Date as 1970-01-01: the timestamp format has no NaN.
  if (Number.isNaN(value.getTime())) throw new RangeError('an invalid Date has no msgpack timestamp');
  return encodeTimestampExtension(value);
}

function arrayOf(payload: unknown, what: string): unknown[] {
  if (!Array.isArray(payload)) throw new DecodeError(`${what} extension: payload is not an array`);
  return payload;
}

function pairsOf(payload: unknown): [unknown, unknown][] {
  const pairs = arrayOf(payload, 'Map');
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new DecodeError('Map extension: an entry is not a [key, value] pair');
    }
  }
  return pairs as [unknown, unknown][];
}
