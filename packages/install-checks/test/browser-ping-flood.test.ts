import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { protocol } from '@skein/stream';
import { describeNeeding } from '@skein/test-utils';
// The `ws` library itself: a server that writes frames no Skein server would, and stops reading.
import { WebSocketServer, type WebSocket as RawWs } from 'ws';
import { afterAll, expect, it } from 'vitest';
import { pageInChromium } from './browser-page.js';

const PAGE = fileURLToPath(new URL('../fixtures/browser/ping-flood-page.ts', import.meta.url));
const MiB = 1024 * 1024;

function response(flag: number, seq: number, msg: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(protocol.RESPONSE_HEADER_LENGTH + msg.length);
  protocol.writeResponseHeader(out, flag as protocol.ResponseFlag, msg.length, seq, 0);
  out.set(msg, protocol.RESPONSE_HEADER_LENGTH);
  return out;
}

/** The hello answer agreeing server pings (kind 21, empty) and nothing else; a server ping (flag 0x19, seq 0, no body: 20 bytes). */
const AGREES_PINGS = response(0, 0, new Uint8Array([1, 1, 21, 0, 0, 0]));
const PING = response(0x19, 0);
/** A pong (the client's answer to a ping) is a bare request: 32 bytes. */
const PONG_BYTES = protocol.REQUEST_HEADER_LENGTH;
/** 2 Mi pings (40 MiB), in messages of 4096: a pong each would be 64 MiB handed to the page's WebSocket. */
const PINGS = 2 * MiB;
const PER_MESSAGE = 4096;

/**
 * Answers the hello agreeing server pings; on reading the first call, stops reading for good
 * and sends PINGS pings (each message once ws has written the last: this side holds one), then
 * the call's answer.
 */
function flood(ws: RawWs, socket: Socket): void {
  ws.on('error', () => {});
  ws.on('message', (data: Buffer) => {
    for (let at = 0; at + protocol.REQUEST_HEADER_LENGTH <= data.length; ) {
      const h = protocol.readRequestHeader(data.subarray(at, at + protocol.REQUEST_HEADER_LENGTH));
      at += protocol.REQUEST_HEADER_LENGTH + h.actionLength + h.msgLength + h.blobLength;
      if (h.action === protocol.HELLO_ACTION) ws.send(AGREES_PINGS);
      else if (h.action !== protocol.PING_ACTION) return void pingFlood(ws, socket, Number(h.seq));
    }
  });
}

function pingFlood(ws: RawWs, socket: Socket, seq: number): void {
  socket.pause();
  const message = Buffer.concat(Array.from({ length: PER_MESSAGE }, () => PING));
  let sent = 0;
  const next = (): void => {
    if (sent === PINGS) return void ws.send(response(0, seq, new TextEncoder().encode('answered')));
    sent += PER_MESSAGE;
    ws.send(message, next);
  };
  next();
}

async function floodingServer(): Promise<{ server: Server; port: number }> {
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const server = createServer((_, res) => void res.writeHead(404).end());
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    socket.on('error', () => {});
    wss.handleUpgrade(req, socket, head, (ws) => flood(ws, socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.on('close', () => wss.close());
  return { server, port: (server.address() as { port: number }).port };
}

describeNeeding(['chromium'], 'a page in headless Chromium against a server that floods pings and reads nothing', () => {
  let hostile: Server | undefined;
  const page = pageInChromium(PAGE, async () => {
    const h = await floodingServer();
    hostile = h.server;
    return `ws=${h.port}`;
  });

  afterAll(async () => {
    hostile?.closeAllConnections();
    hostile?.close();
  });

  it("holds no pong per ping: what it hands its WebSocket stays within the send buffer's mark and the kernels' buffers, not 64 MiB", async () => {
    const { result, errors } = await page.result('skeinPingFlood', 120_000);
    expect(errors).toEqual([]);
    const r = result as { reply: string; state: string; handed: number; maxBuffered: number };
    // The connection lives on and the call is answered after 40 MiB of pings.
    expect({ reply: r.reply, state: r.state }).toEqual({ reply: 'answered', state: 'open' });
    // The page's own buffer: the transport's high-water mark (1 MiB) and a batch of pongs.
    expect(r.maxBuffered).toBeLessThan(2 * MiB);
    // All it handed over: that buffer plus what the two kernels and Chromium's network service
    // took before the server's receive window closed (a few MiB on loopback), far from a pong per ping.
    expect(r.handed).toBeLessThan((PINGS * PONG_BYTES) / 4);
  }, 180_000);
});
