import { createServiceDispatch, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { formatAddress } from '@skein/core';
import { RpcServer } from '@skein/stream';
import { testCleanups } from '@skein/test-utils';
import { wsTransport } from '@skein/transport-ws';
import { describe, it } from 'vitest';
import { skein } from './skein-bin.js';

// A WebSocket URL whose path is `/` or none names the default endpoint (`/skein`); its query was
// dropped with the path, so `skein ping wss://h:1?token=…` reached a server whose upgrade hook
// reads the token there without it, and was answered 401. The query goes to the default path.
describe.concurrent("skein with a WebSocket URL's query and no path", () => {
  it.for(['', '/', '/skein'])('pings ws://host:port%s?token=… with the token on /skein', async (path, t) => {
    const Echo = service('Echo', { echo: method<string, string>() });
    const upgrades: string[] = [];
    const transport = wsTransport({ upgrade: (req) => (upgrades.push(req.url), req.url === '/skein?token=abc') });
    const server = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, services: [implement(Echo, { echo: (s) => s })] }) });
    testCleanups(t).push(() => server.close());
    const at = formatAddress(await server.listen(transport, '127.0.0.1:0'));
    const r = await skein('ping', `ws://${at}${path}?token=abc`);
    t.expect(upgrades).toEqual(['/skein?token=abc']);
    t.expect(r.stderr).toBe('');
    t.expect(r.code).toBe(0);
    t.expect(r.stdout).toMatch(/^pong from .* over ws: [\d.]+ ms$/m);
  });
});
