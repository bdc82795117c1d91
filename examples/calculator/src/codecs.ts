import { cborCodec } from '@skein/codec-cbor';
import { msgpackCodec } from '@skein/codec-msgpack';
import { invalidArgument, type Codec } from '@skein/core';

export function codecByName(name: string): Codec {
  if (name === 'msgpack') return msgpackCodec;
  if (name === 'cbor') return cborCodec;
  throw invalidArgument(`unknown codec ${JSON.stringify(name)}: use msgpack or cbor`);
}
