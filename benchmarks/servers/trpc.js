// The tRPC v11 peer: an `add` query on a `ws` WebSocketServer through tRPC's own ws adapter
// (`applyWSSHandler`), no transformer, no input validator library: the plainest server tRPC has.
import { initTRPC } from '@trpc/server';
import { applyWSSHandler } from '@trpc/server/adapters/ws';
import { WebSocketServer } from 'ws';
import { serveBenchmark } from '../lib/server-process.js';

const t = initTRPC.create();
const router = t.router({
  add: t.procedure.input((v) => v).query(({ input }) => input.a + input.b),
});

serveBenchmark(async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((resolve, reject) => wss.once('listening', resolve).once('error', reject));
  applyWSSHandler({ wss, router });
  return { address: { host: '127.0.0.1', port: wss.address().port }, close: () => new Promise((r) => wss.close(r)) };
});
