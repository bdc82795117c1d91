import { parseAddress, shownAddress } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { wsTransport, type StandardWebSocketCtor, type WsTransportOptions } from '../src/index.js';
import { spec, startServer } from './helpers.js';

const cleanup = cleanups();

// `ws://h:1?token=…`, a query with no path, was "not an address" in core, where the WHATWG URL
// (and RFC 3986) read path `/`: it dials `/?token=…`, and is named without its query. And
// `ws://h:1/ss@host`, a `host:port` that reads as `user:pw`, dials host h, path `/ss@host`.
describe.each([
  ['ws', {}],
  // ws's WebSocket behind the standard API stands in for a browser's, Bun's or Deno's.
  ['standard WebSocket API', { WebSocket: WebSocket as unknown as StandardWebSocketCtor }],
] as [string, WsTransportOptions][])('the %s client', (_name, options) => {
  it.each([
    ['/', '?token=s3cret', '/?token=s3cret', '/?…'],
    ['/ss@host', '/ss@host', '/ss@host', '/ss@host'],
  ])('dials a server at %s given ws://host:port%s', async (serverPath, written, dialled, shown) => {
    const urls: string[] = [];
    const s = await startServer(wsTransport({ path: serverPath, upgrade: (req) => (urls.push(`${req.headers.host} ${req.url}`), true) }));
    cleanup.push(() => s.listener.close());
    const address = parseAddress(`ws://127.0.0.1:${s.port}${written}`);
    const conn = await wsTransport(options).connect(address, spec, { timeoutMs: 10_000 });
    cleanup.push(() => conn.close());
    expect(urls).toEqual([`127.0.0.1:${s.port} ${dialled}`]);
    expect(conn.remote).toBe(`ws://127.0.0.1:${s.port}${shown}`);
    expect(shownAddress(address)).toBe(conn.remote);
  });
});
