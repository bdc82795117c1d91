// The WebSocket limit: one binary message per call, echoed as it came. `ws`: a plain `ws`
// WebSocketServer; `ws-uws`: a plain uWebSockets.js app (Node only: elsewhere it is ws). No
// permessage-deflate on either, as Skein's transports.
import { serveBenchmark } from '../lib/server-process.js';

const MAX_PAYLOAD = 64 * 1024 * 1024;

serveBenchmark(async (params) => (params.transport === 'ws-uws' ? uwsEcho() : wsEcho()));

async function wsEcho() {
  const { WebSocketServer } = await import('ws');
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
  server.on('connection', (socket) => {
    socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
    socket.on('error', () => {});
  });
  await new Promise((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return { address: { host: '127.0.0.1', port: server.address().port }, close: () => new Promise((r) => server.close(r)) };
}

async function uwsEcho() {
  const { default: uws } = await import('uWebSockets.js');
  if (typeof uws.getParts !== 'function') throw new Error('uWebSockets.js loaded its ws fallback: not measuring that as uWS');
  const app = uws.App().ws('/*', {
    maxPayloadLength: MAX_PAYLOAD,
    message: (ws, message, isBinary) => ws.send(message, isBinary),
  });
  const token = await new Promise((resolve, reject) => app.listen('127.0.0.1', 0, (t) => (t ? resolve(t) : reject(new Error('uWS listen failed')))));
  return { address: { host: '127.0.0.1', port: uws.us_socket_local_port(token) }, close: () => uws.us_listen_socket_close(token) };
}
