import { createServiceDispatch, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { formatAddress } from '@skein/core';
import { RpcServer } from '@skein/stream';
import { testCleanups } from '@skein/test-utils';
import { wsTransport } from '@skein/transport-ws';
import { describe, it } from 'vitest';
import { skein } from './skein-bin.js';

// `skein ping wss://api.example.com/skein` said "has no port", and so did `wss://h:443/skein`
// (a WHATWG URL drops its scheme's own port). A WebSocket URL without a port means 80 (ws://) or
// 443 (wss://), as a browser dials it. No test binds those ports: the URL dialled is what the
// error names, and a real ping with the port written shows the rest unchanged.
describe.concurrent('skein with a WebSocket URL without a port', () => {
  it.for([
    ['ws://127.0.0.1/skein', 'ws://127.0.0.1:80/skein'],
    ['wss://127.0.0.1:443/skein', 'wss://127.0.0.1:443/skein'],
    ['WSS://127.0.0.1/skein', 'wss://127.0.0.1:443/skein'],
    ['ws://[::1]/skein', 'ws://[::1]:80/skein'],
  ])('dials %s at %s', async ([addr, dialled], { expect }) => {
    const r = await skein('ping', addr!, '--timeout', '5000');
    // Refused, or whatever answers on the port: never a usage error (exit 2), and the URL dialled named.
    expect(r.stderr).not.toMatch(/has no port/);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot connect to ${dialled}`);
  });

  it('pings a WebSocket server with its port written, as before', async (t) => {
    const Echo = service('Echo', { echo: method<string, string>() });
    const server = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, services: [implement(Echo, { echo: (s) => s })] }) });
    testCleanups(t).push(() => server.close());
    const at = formatAddress(await server.listen(wsTransport(), '127.0.0.1:0'));
    const r = await skein('ping', `ws://${at}/skein`);
    t.expect(r.stderr).toBe('');
    t.expect(r.code).toBe(0);
    t.expect(r.stdout).toMatch(/^pong from .* over ws: [\d.]+ ms$/m);
  });
});
