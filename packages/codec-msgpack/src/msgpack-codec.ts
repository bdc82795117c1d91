import { decodeError, encodeError, invalidArgument, plainBytes, type Codec, type OptionalFields } from '@skein/core';
import { DEFAULT_MAX_CONTAINERS } from './container-budget.js';
import type { ExtensionTypes } from './extension-types.js';
import { fastDecode } from './fast-decode.js';
import { FastEncoder } from './fast-encode.js';
import { DEFAULT_MAX_DEPTH, libraryCoders } from './library-coders.js';
import { DEFAULT_MAX_MAP_KEYS } from './map-keys.js';

export interface MsgpackOptions {
  /**
   * Leave out object fields whose value is `undefined`, as JSON does. Default false: they are
   * sent as nil and arrive as `null`.
   */
  ignoreUndefined?: boolean | undefined;
  /** Sort object keys, so that equal objects encode to equal bytes. Default false (faster). */
  sortKeys?: boolean | undefined;
  /** Extension type numbers for Map and Set. Default `{ set: 0, map: 1 }`. */
  extensionTypes?: OptionalFields<ExtensionTypes> | undefined;
  /**
   * How many levels deep a value may nest, the message itself being level 1 (with 2, `[1]` and
   * `[[]]` pass, `[[1]]` does not): deeper is a Decode error reading and an Encode error
   * writing. Map and Set payloads count: a Set's values are one level below it, a Map's keys and
   * values two (its payload is an array of pairs). Default 100, the library encoder's limit;
   * `Infinity` for none.
   */
  maxDepth?: number | undefined;
  /**
   * How many objects one message may make: arrays, maps, byte strings and extension values (Map,
   * Set, Date, unknown extensions), empty ones included, and text strings of 2 bytes or more (a
   * map key of up to 16 bytes only when it is not one of the recent keys the codec keeps; the
   * empty string and 1-byte strings are never new objects). More is a Decode error, raised once
   * the first one over is read. Default 1,048,576 (1 Mi): a message at the limit makes at most
   * 1 Mi objects (85 MB of empty maps), where a 16 MiB message of empty maps made 16.7 million
   * of them (1 GB, 29 s). `Infinity` for none. Since a kept key is free, a message near the
   * limit may pass or not depending on the keys earlier messages left (about 500 at most).
   */
  maxContainers?: number | undefined;
  /**
   * How many keys the maps (plain objects) of one message received may hold in all, every key
   * counting (cached, repeated and number keys too). The map whose header takes the message past
   * it is a Decode error at that header, before a key of it is read. Default 131,072 (128 Ki):
   * V8 adds each key it has not seen before to an object slowly, and 1 Mi distinct keys blocked
   * the event loop 1.5–1.8 s, in one map or in many. `Infinity` for none. Map values (the Map
   * extension) are arrays of pairs, bound by maxContainers instead.
   */
  maxMapKeys?: number | undefined;
}

/**
 * A MessagePack codec. Each call makes an independent encoder and decoder. Plain values take
 * the fast path (fast-encode.ts, fast-decode.ts), which writes and reads the library's bytes
 * and values; everything else goes through the library itself.
 */
export function msgpack(options: MsgpackOptions = {}): Codec {
  const maxDepth = checkLimit('maxDepth', options.maxDepth ?? DEFAULT_MAX_DEPTH);
  const maxContainers = checkLimit('maxContainers', options.maxContainers ?? DEFAULT_MAX_CONTAINERS);
  const maxMapKeys = checkLimit('maxMapKeys', options.maxMapKeys ?? DEFAULT_MAX_MAP_KEYS);
  const { encoder, values } = libraryCoders({ ...options, maxDepth, maxContainers, maxMapKeys });
  const fast = new FastEncoder({ ignoreUndefined: options.ignoreUndefined ?? false, sortKeys: options.sortKeys ?? false, maxDepth });
  return {
    name: 'msgpack',
    encode(value: unknown): Uint8Array {
      try {
        return fast.encode(value) ?? encoder.encode(value);
      } catch (e) {
        throw encodeError('msgpack', e);
      }
    },
    decode(bytes: Uint8Array): unknown {
      try {
        // Given the library decoder, the fast path reads the whole message: the values it does
        // not read itself, it hands to the library one by one (library-values.ts).
        return fastDecode(plainBytes(bytes), maxDepth, maxContainers, maxMapKeys, values);
      } catch (e) {
        throw decodeError('msgpack', e);
      }
    },
  };
}

function checkLimit(name: string, limit: number): number {
  if (!(Number.isSafeInteger(limit) || limit === Infinity) || limit < 1) {
    throw invalidArgument(`msgpack: ${name} must be an integer of 1 or more, or Infinity, got ${limit}`);
  }
  return limit;
}

/** The codec with default options, ready to pass where a Codec is expected. */
export const msgpackCodec: Codec = msgpack();
