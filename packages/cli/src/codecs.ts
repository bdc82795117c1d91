import { invalidArgument, type Codec } from '@skein/core';
import { cborCodec } from '@skein/codec-cbor';
import { msgpackCodec } from '@skein/codec-msgpack';

const CODECS: Readonly<Record<string, Codec>> = { msgpack: msgpackCodec, cbor: cborCodec };

/** The codec named by `--codec`; an unknown name throws InvalidArgument listing the known ones. */
export function codecNamed(name: string): Codec {
  const codec = Object.hasOwn(CODECS, name) ? CODECS[name] : undefined;
  if (!codec) throw invalidArgument(`unknown codec ${JSON.stringify(name)} (known: ${Object.keys(CODECS).join(', ')})`);
  return codec;
}
