import { codecConformance } from '@skein/test-utils';
import { msgpack, msgpackCodec } from '../src/index.js';

const expectations = {
  undefined: 'null',
  negativeZero: '0',
  smallBigInt: 'number',
  bigIntRange: '64-bit',
  map: 'Map',
  set: 'Set',
  arrayBuffer: 'encode error',
  typedArrays: 'bytes',
  farDates: 'exact',
  invalidDate: 'encode error',
  protoKey: 'decode error',
  invalidBytes: [
    new Uint8Array([0xc1]), // the one type byte msgpack never uses
    new Uint8Array([0x81, 0x90, 0x01]), // a map whose key is an array
    new Uint8Array([0xc7, 0x03, 0xff, 0x00, 0x00, 0x00]), // a 3-byte timestamp
    new Uint8Array([0xd4, 0x01, 0x05]), // a Map extension holding 5
    new Uint8Array([0xd5, 0x01, 0x91, 0x01]), // a Map extension holding [1]
    new Uint8Array([0xd4, 0x00, 0x05]), // a Set extension holding 5
  ],
} as const;

codecConformance(msgpackCodec, expectations);
codecConformance({ ...msgpack({ sortKeys: true }), name: 'msgpack (sortKeys)' }, expectations);
