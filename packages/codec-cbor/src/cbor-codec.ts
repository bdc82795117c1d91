import { decodeError, encodeError, invalidArgument, plainBytes, type Codec } from '@skein/core';
import { Decoder, Encoder } from 'cbor-x';
import { installLinearBignums } from './bignum-tags.js';
import { cborxOptions } from './cborx-options.js';
import { ContainerScan, DEFAULT_MAX_CONTAINERS } from './container-scan.js';
import { DEFAULT_MAX_DEPTH, DepthScan } from './depth-scan.js';
import { fastDecode, NOT_HANDLED } from './fast-decode.js';
import { installGenericObjects, regExpGate } from './generic-objects.js';
import { DEFAULT_MAX_MAP_KEYS } from './map-keys.js';
import { FastEncoder } from './fast-encode.js';
import { refuseSharedValues } from './shared-values.js';
import { SMALL, SmallMessages } from './small-messages.js';

export interface CborOptions {
  /**
   * Write each map header in its smallest form ("preferred serialization", RFC 8949 §4.2.1).
   * Default false: cbor-x writes every object's header with a 16-bit count (2 more bytes for a
   * small object), which lets it count the keys as it goes and is faster.
   */
  variableMapSize?: boolean | undefined;
  /**
   * How many levels deep a value may nest, the message itself being level 1 (with 2, `[1]` and
   * `[[]]` pass, `[[1]]` does not): deeper is a Decode error reading and an Encode error
   * writing. Arrays, maps and tags each count: a Set (tag 258 around an array) holds its values
   * two levels below it; a cbor-x record is one level. Default 100, as the MessagePack codec's:
   * without it cbor-x, which recurses, read what the stack allowed (2,200 to over 10,000
   * levels) and handed it to the application. Messages the fast path reads (32 levels at most)
   * are not scanned, nor others of at most maxDepth bytes; longer ones are scanned before cbor-x
   * reads them, and cbor-x's own output likewise. `Infinity` for none but the stack.
   */
  maxDepth?: number | undefined;
  /**
   * How many objects one message received may make: arrays, maps, byte strings and tags (empty
   * ones included; each tag makes an object, a Date, Set, Map, bigint or other), and text
   * strings of 2 bytes or more, map keys included (the empty string and 1-byte ASCII strings are
   * never new objects). More is a Decode error, before anything is decoded. Messages longer than
   * maxContainers bytes are scanned for it first. Default 1,048,576 (1 Mi): a message at the
   * limit makes at most 1 Mi objects (67 MB of empty maps), where a 16 MiB message of empty maps
   * would make 16.7 million. `Infinity` for none.
   */
  maxContainers?: number | undefined;
  /**
   * How many keys the maps (plain objects) of one message received may hold in all, every key
   * counting (number keys, 1-character keys and repeated ones too). More is a Decode error,
   * before anything is decoded: messages longer than twice maxMapKeys bytes have their map
   * headers summed (in the maxContainers scan), and those holding an indefinite-length map are
   * walked to count its keys. Default 131,072 (128 Ki): V8 adds each key it has not seen before
   * to an object slowly, and 1 Mi distinct keys took cbor-x 1.3–1.5 s, 2.8 million number keys
   * 2.4 s. `Infinity` for none.
   */
  maxMapKeys?: number | undefined;
  /**
   * Read a RegExp (tag 27 `['RegExp', source, flags]`, which the codec writes for one) in a
   * message received. Default false: it is a Decode error, as making a RegExp parses its source
   * at once, and some sources cost far more than their bytes (20 KB of `\p{L}` with the `u`
   * flag took V8 1 s, 1 MB of it 39 s, the event loop blocked). Set it only where every peer
   * is trusted. An `Error` (tag 27 with any other name) is read either way.
   */
  regExps?: boolean | undefined;
}

/**
 * A CBOR codec. Each call makes its own cbor-x Encoder and Decoders, and a fast path
 * before them for plain values (fast-encode.ts, fast-decode.ts) that writes and reads the same bytes.
 */
export function cbor(options: CborOptions = {}): Codec {
  installLinearBignums();
  installGenericObjects();
  const regExps = options.regExps ?? false;
  const maxMapKeys = checkLimit('maxMapKeys', options.maxMapKeys ?? DEFAULT_MAX_MAP_KEYS);
  const maxDepth = checkLimit('maxDepth', options.maxDepth ?? DEFAULT_MAX_DEPTH);
  const depth = new DepthScan(maxDepth, maxMapKeys);
  // cbor-x's encoder has no depth limit: its bytes are checked as a peer's decoder checks them.
  const written = new DepthScan(maxDepth);
  const containers = new ContainerScan(checkLimit('maxContainers', options.maxContainers ?? DEFAULT_MAX_CONTAINERS), maxMapKeys);
  const variableMapSize = options.variableMapSize ?? false;
  const settings = cborxOptions(variableMapSize);
  const encoder = new Encoder(settings);
  const fast = new FastEncoder(variableMapSize, maxDepth);
  const small = new SmallMessages(new Decoder({ ...settings, copyBuffers: true }));
  // Not the Encoder, which keeps a `structures` array: decoding with it kept the records a
  // message defined (cbor-x tag 0xdfff) for every later message of every peer, a failed one's
  // too, with their keys (20 failed 2 MiB messages held 168 MB). A Decoder starts each anew.
  const decoder = new Decoder(settings);
  /** A message the fast path leaves to cbor-x (it reads no tags): refused if it shares values, read with RegExps refused unless asked for. */
  const readByCborx = (bytes: Uint8Array): unknown => {
    refuseSharedValues(bytes);
    // Restored, not cleared: this decode may run within another's (a tag reader's).
    const outer = regExpGate.refuse;
    regExpGate.refuse = !regExps;
    try {
      return bytes.length <= SMALL && !small.busy ? small.decode(bytes) : decoder.decode(plainBytes(bytes));
    } finally {
      regExpGate.refuse = outer;
    }
  };
  /** A value the fast path leaves to cbor-x: refused if nested deeper than a peer's decoder reads, as the MessagePack codec's encoder does. */
  const byCborx = (value: unknown): Uint8Array => {
    const bytes = plainBytes(encoder.encode(value));
    written.check(bytes, false);
    return bytes;
  };
  return {
    name: 'cbor',
    encode(value: unknown): Uint8Array {
      try {
        // No copy needed: neither writes over bytes it has returned. The next encode starts
        // after them in the same buffer, or in a new one when that is nearly full.
        return fast.encode(value) ?? byCborx(value);
      } catch (e) {
        throw encodeError('cbor', e);
      }
    },
    decode(bytes: Uint8Array): unknown {
      try {
        const indefiniteMaps = containers.check(bytes);
        // The fast path reads no deeper than maxDepth: only what it leaves is scanned for depth.
        const value = fastDecode(bytes, maxDepth);
        if (value !== NOT_HANDLED) return value;
        depth.check(bytes, indefiniteMaps);
        return readByCborx(bytes);
      } catch (e) {
        throw decodeError('cbor', e);
      }
    },
  };
}

function checkLimit(name: string, limit: number): number {
  if (!(Number.isSafeInteger(limit) || limit === Infinity) || limit < 1) {
    throw invalidArgument(`cbor: ${name} must be an integer of 1 or more, or Infinity, got ${limit}`);
  }
  return limit;
}

/** The codec with default options, ready to pass where a Codec is expected. */
export const cborCodec: Codec = cbor();
