import { createServiceDispatch, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { formatAddress } from '@skein/core';
import { ClientStream, RpcServer } from '@skein/stream';
import { testCleanups } from '@skein/test-utils';
import { wsTransport } from '@skein/transport-ws';
import { describe, it } from 'vitest';
import { skein } from './skein-bin.js';

// A WebSocket URL's query with no path: core reads `ws://h:1?q` as the path `/` (RFC 3986
// §6.2.3, as a browser dials it), `/?q`, where the CLI read it its own way and dialled
// `/skein?q`: one address, two endpoints, by whether a pool or `skein ping` dialled it. The CLI
// reads the URL with core's parseAddress, so both dial the same request target: a query with no
// path goes to `/`, `/` is `/`, and a path is kept.
describe.concurrent("skein with a WebSocket URL's query: the endpoint core dials", () => {
  it.for([
    ['', '/', '/?token=abc'],
    ['/', '/', '/?token=abc'],
    ['/skein', '/skein', '/skein?token=abc'],
  ])('pings ws://host:port%s?token=… at %s, where a ClientStream dials it (%s)', async ([path, serverPath, target], t) => {
    const Echo = service('Echo', { echo: method<string, string>() });
    const upgrades: string[] = [];
    const transport = wsTransport({ path: serverPath, upgrade: (req) => (upgrades.push(req.url), req.url === target) });
    const server = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, services: [implement(Echo, { echo: (s) => s })] }) });
    testCleanups(t).push(() => server.close());
    const address = `ws://${formatAddress(await server.listen(transport, '127.0.0.1:0'))}${path}?token=abc`;
    const stream = await ClientStream.connect({ transport: wsTransport(), address });
    await stream.close();
    const r = await skein('ping', address);
    t.expect(upgrades).toEqual([target, target]);
    t.expect(r.stderr).toBe('');
    t.expect(r.code).toBe(0);
    t.expect(r.stdout).toMatch(/^pong from .* over ws: [\d.]+ ms$/m);
  });
});
