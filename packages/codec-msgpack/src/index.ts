export { msgpack, msgpackCodec } from './msgpack-codec.js';
export type { MsgpackOptions } from './msgpack-codec.js';
export type { ExtensionTypes } from './extensions.js';
