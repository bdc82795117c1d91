import net from 'node:net';
import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, deferred } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { wsTransport } from '../src/index.js';
import { frame, loopTurn, record, spec } from './helpers.js';

const cleanup = cleanups();

/**
 * A plain `ws` server that, on each connection, runs `serve` at once (before the client has bound
 * its connection, or sent a byte), then pings: `received` settles when the pong comes back, so
 * the client has read everything sent before the ping; `closeCode` when the client closes.
 */
async function eagerServer(serve: (ws: WebSocket) => void): Promise<{ port: number; received: Promise<void>; closeCode: Promise<number> }> {
  const received = deferred<void>();
  const closeCode = deferred<number>();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  cleanup.push(() => new Promise((r) => (wss.clients.forEach((c) => c.terminate()), wss.close(r))));
  wss.on('connection', (ws) => {
    ws.on('error', () => {});
    ws.on('close', (code) => closeCode.resolve(code));
    ws.on('pong', () => received.resolve());
    serve(ws);
    ws.ping();
  });
  return { port: (wss.address() as net.AddressInfo).port, received: received.promise, closeCode: closeCode.promise };
}

describe('ws client, before its connection is bound', () => {
  it('holds at most maxHeldBytes of what a server sends before the client binds (a credentials fetch awaited), then drops it: Overloaded, 1013', async () => {
    // 64 messages of 16 KiB, 1 MiB, against a bound of 64 KiB: a server that floods the gap
    // between the upgrade and the bind (ClientStream.connect awaits the credentials there).
    const body = new Uint8Array(16 * 1024);
    const peer = await eagerServer((ws) => {
      for (let i = 0; i < 64; i++) ws.send(frame(body));
    });
    const conn = await wsTransport({ maxHeldBytes: 64 * 1024 }).connect({ host: '127.0.0.1', port: peer.port }, spec);
    cleanup.push(() => conn.close());
    // Read it all (the pong), or closed on it before the ping.
    await Promise.race([peer.received, peer.closeCode]);
    // Bound only now: nothing of the flood is delivered, the connection is already failed.
    const c = record(conn);
    await loopTurn();
    // Held past the bound, all 64 would be delivered now.
    expect(c.bodies.length).toBeLessThan(64);
    expect(c.isClosed).toBe(true);
    const err = await c.closed.promise;
    expect(RpcError.is(err, ErrorCode.Overloaded)).toBe(true);
    expect(err!.message).toMatch(/over maxHeldBytes \(65536\)/);
    expect(await peer.closeCode).toBe(1013);
  });

  it('what a server sends before the bind within maxHeldBytes is delivered whole once bound', async () => {
    const peer = await eagerServer((ws) => {
      for (let i = 0; i < 3; i++) ws.send(frame(`early ${i}`));
    });
    const conn = await wsTransport({ maxHeldBytes: 64 * 1024 }).connect({ host: '127.0.0.1', port: peer.port }, spec);
    cleanup.push(() => conn.close());
    await peer.received;
    const c = record(conn);
    expect(c.bodies.map((b) => new TextDecoder().decode(b))).toEqual(['early 0', 'early 1', 'early 2']);
    expect(c.isClosed).toBe(false);
  });
});
