import type net from 'node:net';
import { ErrorCode, RpcError, parseAddress } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { wsTransport } from '../src/index.js';
import { wsUrl } from '../src/handshake.js';
import { spec } from './helpers.js';

const cleanup = cleanups();

// `wss://api.example.com/skein`, as copied from a page or a reverse proxy's config, was "not an
// address". Without a port a WebSocket URL means 80 (ws://) or 443 (wss://), as a browser dials
// it; the tests bind no privileged port: the URL dialled is checked, and a real connect with the
// port written shows the rest unchanged.
describe('a WebSocket address without a port', () => {
  it.each([
    ['wss://api.example.com/skein', 'wss://api.example.com:443/skein'],
    ['wss://api.example.com', 'wss://api.example.com:443/skein'],
    ['ws://api.example.com/rpc?token=t', 'ws://api.example.com:80/rpc?token=t'],
    ['WSS://[::1]/skein', 'wss://[::1]:443/skein'],
    ['ws://[::1]', 'ws://[::1]:80/skein'],
  ])('%s dials %s, the standard port', (address, dialled) => {
    const at = parseAddress(address);
    const url = wsUrl(at, '/skein', at.tls === true);
    expect(url).toBe(dialled);
    // As ws and a browser's WebSocket read the URL: its scheme's default port, written or not.
    expect(new URL(url).port).toBe('');
  });

  it('is dialled at port 80 by a real connect (ws://127.0.0.1/…)', async () => {
    const err = await wsTransport().connect(parseAddress('ws://127.0.0.1/default-port-probe'), spec, { timeoutMs: 10_000 }).then(
      (c) => (void c.close(), undefined),
      (e: unknown) => e,
    );
    // Refused, or whatever port 80 answers: never a Skein server, and the error names the URL dialled.
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).not.toBe(ErrorCode.InvalidArgument);
    expect((err as RpcError).message).toContain('ws://127.0.0.1:80/default-port-probe');
  });
});

describe('a WebSocket address with its port written', () => {
  it('connects as before, its scheme in any case, with the URL path and Host header it names', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
    await new Promise((r) => wss.once('listening', r));
    cleanup.push(() => new Promise((r) => (wss.clients.forEach((c) => c.terminate()), wss.close(r))));
    const requests: string[] = [];
    wss.on('connection', (_ws, req) => void requests.push(`${req.headers.host} ${req.url}`));
    const { port } = wss.address() as net.AddressInfo;
    for (const address of [`ws://127.0.0.1:${port}/explicit`, `WS://127.0.0.1:${port}/explicit`]) {
      const conn = await wsTransport().connect(parseAddress(address), spec, { timeoutMs: 10_000 });
      await conn.close();
    }
    expect(requests).toEqual([`127.0.0.1:${port} /explicit`, `127.0.0.1:${port} /explicit`]);
  });
});
