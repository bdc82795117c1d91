// Connect one multiplexed stream and call through a typed client.
import { createClient } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { Shop } from './define.js';

export async function callShop(port: number): Promise<number> {
  const stream = await ClientStream.connect({ transport: tcpTransport(nodeRuntime), address: `127.0.0.1:${port}` });
  const shop = createClient(Shop, stream, { codec: msgpackCodec });
  const price = await shop.price({ sku: 'tea' }, { timeoutMs: 2000 }); // typed: number
  await stream.close();
  return price;
}
