import { addressFor, formatAddress, parseAddress, type Address } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { wsTransport, type StandardWebSocketCtor, type WsTransportOptions } from '../src/index.js';
import { spec } from './helpers.js';

const cleanup = cleanups();

// An Address written as an object may give its optional fields as undefined (`{ host, port, tls:
// cfg.tls }`, which its type admits for exactOptionalPropertyTypes callers): each is read as left
// out, so it is a plain ws:// address at the default path, not TLS, not a path of `undefined`,
// nor one written for another transport.
const given = (host: string, port: number): Address => ({ host, port, tls: undefined, urlPath: undefined, scheme: undefined });

describe.each([
  ['ws', {}],
  // ws's WebSocket behind the standard API stands in for a browser's, Bun's or Deno's.
  ['standard WebSocket API', { WebSocket: WebSocket as unknown as StandardWebSocketCtor }],
] as [string, WsTransportOptions][])('the %s client, given an Address whose optional fields are undefined', (_name, options) => {
  it('listens and dials plain ws:// at the default path', async () => {
    const urls: string[] = [];
    const listener = await wsTransport({ upgrade: (req) => (urls.push(req.url), true) }).listen(given('127.0.0.1', 0), spec, (conn) =>
      conn.bind({ frame() {}, drain() {}, close() {} }),
    );
    cleanup.push(() => listener.close());
    const port = (listener.address as { port: number }).port;
    const address = given('127.0.0.1', port);
    expect(parseAddress(address)).toBe(address);
    expect(formatAddress(address)).toBe(`127.0.0.1:${port}`);
    // Nor is it a WebSocket one to the TCP transport, which refuses an address with a urlPath.
    expect(addressFor('tcp', address, 'tcpTransport')).toBe(address);
    const conn = await wsTransport(options).connect(address, spec, { timeoutMs: 10_000 });
    cleanup.push(() => conn.close());
    expect(urls).toEqual(['/skein']);
    // As the same address with its fields left out is named.
    expect(conn.remote).toBe(`127.0.0.1:${port}`);
  });
});
