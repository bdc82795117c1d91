// Swapping the codec is one import: both sides must agree.
import { createClient, createServiceDispatch } from '@skein/api';
import { cborCodec } from '@skein/codec-cbor';
import type { ClientStream } from '@skein/stream';
import { Shop } from './define.js';
import { shop } from './serve.js';

export const cborDispatch = createServiceDispatch({ codec: cborCodec, services: [shop] });
export const cborShop = (stream: ClientStream) => createClient(Shop, stream, { codec: cborCodec });
