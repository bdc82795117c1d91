import { decodeError, encodeError, plainBytes, type Codec } from '@skein/core';
import { Decoder, Encoder, type ExtensionCodecType } from '@msgpack/msgpack';
import { checkExtensionTypes, skeinExtensions, type ExtensionTypes } from './extensions.js';
import { guardInt64 } from './int64-guard.js';
import { Nesting } from './nesting.js';
import { readSafeIntegers, writeSafeIntegers } from './safe-integers.js';

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

/** A MessagePack codec. Each call makes an independent encoder and decoder. */
export function msgpack(options: MsgpackOptions = {}): Codec {
  const { encoder, decoder } = build(options);
  return {
    name: 'msgpack',
    encode(value: unknown): Uint8Array {
      try {
        return encoder.encode(value);
      } catch (e) {
        throw encodeError('msgpack', e);
      }
    },
    decode(bytes: Uint8Array): unknown {
      try {
        return decoder.decode(plainBytes(bytes));
      } catch (e) {
        throw decodeError('msgpack', e);
      }
    },
  };
}

/** The codec with default options, ready to pass where a Codec is expected. */
export const msgpackCodec: Codec = msgpack();

function build(options: MsgpackOptions): { encoder: Encoder; decoder: Decoder } {
  const types = checkExtensionTypes({ set: options.extensionTypes?.set ?? 0, map: options.extensionTypes?.map ?? 1 });
  const { ignoreUndefined = false, sortKeys = false } = options;
  // Assigned below: the extensions encode their payloads with encoders that use them.
  let extensionCodec: ExtensionCodecType<undefined>;
  // useBigInt64 so that bigints travel as int64/uint64; safe-integers.ts makes numbers share
  // those forms, and makes the decoder return a bigint only beyond the safe integers.
  const newEncoder = (): Encoder =>
    writeSafeIntegers(guardInt64(new Encoder({ extensionCodec, useBigInt64: true, ignoreUndefined, sortKeys })));
  const newDecoder = (): Decoder => readSafeIntegers(new Decoder({ extensionCodec, useBigInt64: true }));
  extensionCodec = skeinExtensions(types, new Nesting(newEncoder), new Nesting(newDecoder));
  return { encoder: newEncoder(), decoder: newDecoder() };
}
