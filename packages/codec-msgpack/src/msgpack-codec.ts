import { decodeError, encodeError, plainBytes, type Codec } from '@skein/core';
import type { ExtensionTypes } from './extensions.js';
import { fastDecode, NOT_HANDLED } from './fast-decode.js';
import { FastEncoder } from './fast-encode.js';
import { libraryCoders } from './library-coders.js';

export interface MsgpackOptions {
  /**
   * Leave out object fields whose value is `undefined`, as JSON does. Default false: they are
   * sent as nil and arrive as `null`.
   */
  ignoreUndefined?: boolean;
  /** Sort object keys, so that equal objects encode to equal bytes. Default false (faster). */
  sortKeys?: boolean;
  /** Extension type numbers for Map and Set. Default `{ set: 0, map: 1 }`. */
  extensionTypes?: Partial<ExtensionTypes>;
}

/**
 * A MessagePack codec. Each call makes an independent encoder and decoder. Plain values take
 * the fast path (fast-encode.ts, fast-decode.ts), which writes and reads the library's bytes
 * and values; everything else goes through the library itself.
 */
export function msgpack(options: MsgpackOptions = {}): Codec {
  const { encoder, decoder } = libraryCoders(options);
  const fast = new FastEncoder({ ignoreUndefined: options.ignoreUndefined ?? false, sortKeys: options.sortKeys ?? false });
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
        const plain = plainBytes(bytes);
        const value = fastDecode(plain);
        return value !== NOT_HANDLED ? value : decoder.decode(plain);
      } catch (e) {
        throw decodeError('msgpack', e);
      }
    },
  };
}

/** The codec with default options, ready to pass where a Codec is expected. */
export const msgpackCodec: Codec = msgpack();
