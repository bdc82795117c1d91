export { cbor, cborCodec } from './cbor-codec.js';
export type { CborOptions } from './cbor-codec.js';
