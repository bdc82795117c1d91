/**
 * The default `maxMapKeys`: how many keys the maps of one message received may hold in all.
 * Each key is a property added to a plain object, and V8 adds a key it has not seen before
 * slowly (about 1.5 µs: the string is made unique, then hashed into the object's dictionary),
 * whatever the key's type or the map's size: cbor-x took 1.3–1.5 s for a map of 1 Mi distinct
 * keys and 2.4–2.9 s for a 16 MiB map of 2.8 million number keys, which maxContainers does not
 * count. 131,072 (128 Ki) reads any object the codecs' conformance suite sends (70,000 keys);
 * the README gives the figures (`benchmarks/codec-hostile.js` measures them).
 */
export const DEFAULT_MAX_MAP_KEYS = 1 << 17;

/** The error the scans throw when the maps of a message hold more than `maxMapKeys` keys (the codec makes it a Decode error). */
export const tooManyKeys = (maxMapKeys: number): Error =>
  new RangeError(`more than maxMapKeys (${maxMapKeys}) map keys in one message; raise the codec's maxMapKeys option to read it`);
