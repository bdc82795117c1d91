// @skein/codec-cbor against the codec conformance suite. It runs here, not in the codec's own
// package: codec-cbor's tests importing this package would make a circle in the package graph (this
// package's tests use @skein/api, whose tests use codec-cbor).
import { cbor, cborCodec } from '@skein/codec-cbor';
import { codecConformance } from '../src/index.js';

const expectations = {
  undefined: 'undefined',
  negativeZero: '0',
  smallBigInt: 'bigint',
  bigIntRange: 'unbounded',
  map: 'Map',
  set: 'Set',
  arrayBuffer: 'Uint8Array',
  typedArrays: 'same type',
  farDates: 'within 1 ms',
  invalidDate: 'invalid Date',
  protoKey: 'renamed',
  invalidBytes: [
    new Uint8Array([0xff]), // a break code outside an indefinite-length item
    new Uint8Array([0x1c]), // reserved additional information 28
    new Uint8Array([0x3f]), // a negative integer of indefinite length
    new Uint8Array([0xa1, 0x80, 0x01]), // an object key that is an array
  ],
} as const;

codecConformance(cborCodec, expectations);
codecConformance({ ...cbor({ variableMapSize: true }), name: 'cbor (variableMapSize)' }, expectations);
