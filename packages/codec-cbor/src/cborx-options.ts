import type { Options } from 'cbor-x';

/** The cbor-x options the codec runs with; the fast path (fast-encode.ts, fast-decode.ts) writes and reads as cbor-x does with them. */
export function cborxOptions(variableMapSize: boolean): Options {
  return {
    // Records and shared structures make a message depend on state from earlier ones: a peer
    // must be able to decode any single message.
    useRecords: false,
    // CBOR maps decode as plain objects; a JS Map is written with tag 259 and decodes as a Map.
    mapsAsObjects: true,
    // A plain byte string, which every CBOR decoder reads, instead of cbor-x's default under
    // Node of tagging Uint8Array with tag 64.
    tagUint8Array: false,
    variableMapSize,
  };
}
