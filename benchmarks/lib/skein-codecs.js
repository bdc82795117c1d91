import { cborCodec } from '@skein/codec-cbor';
import { msgpackCodec } from '@skein/codec-msgpack';

const codecs = { msgpack: msgpackCodec, cbor: cborCodec };

export function codecByName(name) {
  const codec = codecs[name];
  if (!codec) throw new Error(`unknown codec ${JSON.stringify(name)}: use msgpack or cbor`);
  return codec;
}
