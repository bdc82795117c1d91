// Implement the service and serve it over TCP with the msgpack codec.
import { createServiceDispatch, implement } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { nodeRuntime } from '@skein/runtime-node';
import { RpcServer } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { OutOfStock, Shop } from './define.js';

const stock = new Map([['tea', 3]]);

export const shop = implement(Shop, {
  price: ({ sku }) => (sku === 'tea' ? 4.5 : 0),
  buy: ({ sku, qty }, ctx) => {
    const left = stock.get(sku) ?? 0;
    if (left < qty) throw new OutOfStock();
    stock.set(sku, left - qty);
    ctx.logger.info({ sku, qty, peer: ctx.peer }, 'sold');
    return { orderId: `${sku}-${Date.now()}` };
  },
});

export async function serve(port = 0): Promise<{ server: RpcServer; port: number }> {
  const server = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, services: [shop] }) });
  const bound = await server.listen(tcpTransport(nodeRuntime), { host: '127.0.0.1', port });
  return { server, port: 'port' in bound ? bound.port : port };
}
