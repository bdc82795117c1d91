// The Cap'n Web peer: an RpcTarget with `add`, one RPC session per WebSocket on a `ws`
// WebSocketServer, as Cap'n Web's README sets it up on Node.
import { RpcTarget, newWebSocketRpcSession } from 'capnweb';
import { WebSocketServer } from 'ws';
import { serveBenchmark } from '../lib/server-process.js';
import '../lib/websocket-global.js';

class CalculatorApi extends RpcTarget {
  add({ a, b }) {
    return a + b;
  }
}

serveBenchmark(async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((resolve, reject) => wss.once('listening', resolve).once('error', reject));
  wss.on('connection', (socket) => newWebSocketRpcSession(socket, new CalculatorApi()));
  return { address: { host: '127.0.0.1', port: wss.address().port }, close: () => new Promise((r) => wss.close(r)) };
});
