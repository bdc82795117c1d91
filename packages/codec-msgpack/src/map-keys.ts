import { DecodeError, type Decoder } from '@msgpack/msgpack';
import { replaceMethod } from './private-methods.js';

type PushMap = (this: Decoder, size: number) => void;

/**
 * The default `maxMapKeys`: how many keys the maps of one message received may hold in all.
 * Each key is a property added to a plain object, and V8 adds a key it has not seen before
 * slowly (about 1.5 µs: the string is made unique, then hashed into the object's dictionary),
 * whatever the key's type or the map's size: 1 Mi distinct keys blocked the event loop 1.5–1.8
 * s in one map and as long in maps of 128 Ki. 131,072 (128 Ki) reads any object the codecs'
 * conformance suite sends (70,000 keys, beyond map 16's 65,535); the README gives the figures
 * (`benchmarks/codec-hostile.js` measures them).
 */
export const DEFAULT_MAX_MAP_KEYS = 1 << 17;

/** The error both paths throw when a map header takes the message past `maxMapKeys` keys (the codec makes it a Decode error). */
export const tooManyKeys = (maxMapKeys: number): DecodeError =>
  new DecodeError(`more than maxMapKeys (${maxMapKeys}) map keys in one message; raise the codec's maxMapKeys option to read it`);

/**
 * How many keys the maps of one message may hold in all, counted at each map's header: the map
 * that would take the message past `maxMapKeys` is refused before a key of it is read. Every
 * key counts, those the key cache holds and number keys too (each is a property to add, and a
 * map that repeats one cached key costs a property store per entry). The fast path counts the
 * same headers (fast-decode.ts). One count serves a decoder and those of the extension
 * payloads it reads (nesting.ts), as for maxContainers.
 */
export class MapKeys {
  /** Keys the message being read may still hold: set at its start (library-values.ts). */
  left = 0;

  constructor(readonly maxMapKeys: number) {}

  /** Makes `decoder` count the keys of each map it opens. An empty map is made inline, without this method: it has no keys. */
  limit(decoder: Decoder): Decoder {
    const keys = this;
    replaceMethod<PushMap>(decoder, 'pushMapState', (push) =>
      function (size) {
        if ((keys.left -= size) < 0) throw tooManyKeys(keys.maxMapKeys);
        push.call(this, size);
      },
    );
    return decoder;
  }
}
