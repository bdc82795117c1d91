import { parseAddress, type FrameConn } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { wsTransport, type StandardWebSocketCtor, type WsTransportOptions } from '../src/index.js';
import { record, spec, startServer } from './helpers.js';

const cleanup = cleanups();

// A client connection's peer (`FrameConn.remote`, hence `ClientStream.remote` and every
// "connection to … lost") was the address as formatAddress writes it, query and all: a token
// written into the address (`ws://h:1/skein?token=…`) was in every call's error. It is named as
// connect errors name the URL (e5bd137): without its query.
describe.each([
  ['ws', {}],
  // ws's WebSocket behind the standard API stands in for a browser's, Bun's or Deno's.
  ['standard WebSocket API', { WebSocket: WebSocket as unknown as StandardWebSocketCtor }],
] as [string, WsTransportOptions][])('the %s client', (_name, options) => {
  it("names its peer without the address's query", async () => {
    const urls: string[] = [];
    const s = await startServer(wsTransport({ upgrade: (req) => (urls.push(req.url), true) }));
    cleanup.push(() => s.listener.close());
    const conn: FrameConn = await wsTransport(options).connect(parseAddress(`ws://127.0.0.1:${s.port}/skein?token=s3cret`), spec, { timeoutMs: 10_000 });
    cleanup.push(() => conn.close());
    expect(conn.remote).toBe(`ws://127.0.0.1:${s.port}/skein?…`);
    // The token still reached the server: only the name leaves it out.
    expect(urls).toEqual(['/skein?token=s3cret']);
    record(conn);
    expect(() => record(conn)).toThrow(`connection to ws://127.0.0.1:${s.port}/skein?… is already bound`);
  });

  it('names a peer with no query as before', async () => {
    const s = await startServer(wsTransport());
    cleanup.push(() => s.listener.close());
    const conn = await wsTransport(options).connect(parseAddress(`ws://127.0.0.1:${s.port}/skein`), spec, { timeoutMs: 10_000 });
    cleanup.push(() => conn.close());
    expect(conn.remote).toBe(`ws://127.0.0.1:${s.port}/skein`);
  });
});
