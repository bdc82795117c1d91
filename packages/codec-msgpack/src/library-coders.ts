import { Decoder, Encoder, type ExtensionCodecType } from '@msgpack/msgpack';
import { ContainerBudget, DEFAULT_MAX_CONTAINERS } from './container-budget.js';
import { DecodeDepth } from './decode-depth.js';
import { EncodeDepth } from './encode-depth.js';
import type { ExtensionTypes } from './extension-types.js';
import { checkExtensionTypes, skeinExtensions } from './extensions.js';
import { growArrays } from './growing-arrays.js';
import { guardInt64 } from './int64-guard.js';
import { libraryKeyDecoder } from './key-cache.js';
import { nativeStrings } from './library-strings.js';
import { LibraryValues } from './library-values.js';
import { DEFAULT_MAX_MAP_KEYS, MapKeys } from './map-keys.js';
import { releaseMessages } from './message-release.js';
import { Nesting } from './nesting.js';
import { readSafeIntegers, writeSafeIntegers } from './safe-integers.js';
import { copySmallBinaries } from './small-binaries.js';

/** The options the library's encoder and decoder are built from (MsgpackOptions, resolved). */
export interface LibraryOptions {
  ignoreUndefined?: boolean;
  sortKeys?: boolean;
  extensionTypes?: Partial<ExtensionTypes>;
  maxDepth?: number;
  maxContainers?: number;
  maxMapKeys?: number;
  /**
   * Leave long strings to the library's own encodeString (a JS count of their bytes first)
   * instead of library-strings.ts: the reference the tests compare the codec with.
   */
  libraryStrings?: boolean;
}

/** The library encoder's own limit, and the decoder's: what a default peer writes, a default peer reads. */
export const DEFAULT_MAX_DEPTH = 100;

/**
 * @msgpack/msgpack's Encoder and Decoder, set up for Skein: the path every value the fast
 * path does not take goes through, and the reference the fast path is tested against.
 */
export function libraryCoders(options: LibraryOptions): { encoder: Pick<Encoder, 'encode'>; decoder: Decoder; values: LibraryValues } {
  const types = checkExtensionTypes({ set: options.extensionTypes?.set ?? 0, map: options.extensionTypes?.map ?? 1 });
  const { ignoreUndefined = false, sortKeys = false, maxDepth = DEFAULT_MAX_DEPTH, maxMapKeys = DEFAULT_MAX_MAP_KEYS } = options;
  const depth = new DecodeDepth(maxDepth);
  const budget = new ContainerBudget(options.maxContainers ?? DEFAULT_MAX_CONTAINERS);
  const keys = new MapKeys(maxMapKeys);
  const encodeDepth = new EncodeDepth(maxDepth);
  // Assigned below: the extensions encode their payloads with encoders that use them.
  let extensionCodec: ExtensionCodecType<undefined>;
  const strings = options.libraryStrings ? (encoder: Encoder): Encoder => encoder : nativeStrings;
  // useBigInt64 so that bigints travel as int64/uint64; safe-integers.ts makes numbers share
  // those forms, and makes the decoder return a bigint only beyond the safe integers.
  const newEncoder = (): Encoder =>
    encodeDepth.limit(writeSafeIntegers(guardInt64(strings(new Encoder({ extensionCodec, useBigInt64: true, ignoreUndefined, sortKeys, maxDepth })))));
  const newDecoder = (): Decoder =>
    releaseMessages(keys.limit(budget.limit(depth.limit(growArrays(copySmallBinaries(readSafeIntegers(new Decoder({ extensionCodec, useBigInt64: true, keyDecoder: libraryKeyDecoder }))))))));
  extensionCodec = skeinExtensions(types, new Nesting(() => encodeDepth.payload(newEncoder())), new Nesting(newDecoder));
  // One encoder per level of encodes within encodes (a getter in a value may encode with the
  // codec): the library would encode those with a copy of itself made without our changes.
  const encoders = new Nesting(() => encodeDepth.outermost(newEncoder()));
  const encoder = { encode: (value: unknown) => encoders.run((e) => e.encode(value)) };
  const values = new LibraryValues(newDecoder(), budget, keys, depth);
  return { encoder, decoder: values.decoder, values };
}
