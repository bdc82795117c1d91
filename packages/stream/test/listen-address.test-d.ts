import type { Address, Transport } from '@skein/core';
import { describe, expectTypeOf, it } from 'vitest';
import { RpcServer, type BoundAddress, type HostAddress, type PathAddress } from '../src/index.js';

// listen() resolves with the kind of address asked for, where the argument's type tells it.
declare const server: RpcServer;
declare const t: Transport;
declare const fromConfig: string;
declare const given: Address;

describe('RpcServer.listen', () => {
  it('gives a host and port for a host, read without narrowing', async () => {
    expectTypeOf(await server.listen(t, '127.0.0.1:0')).toEqualTypeOf<HostAddress>();
    expectTypeOf((await server.listen(t, '127.0.0.1:0')).port).toEqualTypeOf<number>();
    expectTypeOf(await server.listen(t, '[::1]:0')).toEqualTypeOf<HostAddress>();
    expectTypeOf(await server.listen(t, 'tls://localhost:7000')).toEqualTypeOf<HostAddress>();
    expectTypeOf(await server.listen(t, 'ws://127.0.0.1:0/rpc')).toEqualTypeOf<HostAddress>();
    expectTypeOf(await server.listen(t, { host: '127.0.0.1', port: 0 })).toEqualTypeOf<HostAddress>();
  });

  it('gives a path for a Unix socket', async () => {
    expectTypeOf(await server.listen(t, 'unix:/tmp/s')).toEqualTypeOf<PathAddress>();
    expectTypeOf((await server.listen(t, 'unix:/tmp/s')).path).toEqualTypeOf<string>();
    expectTypeOf(await server.listen(t, 'tls+unix:/tmp/s')).toEqualTypeOf<PathAddress>();
    expectTypeOf(await server.listen(t, '/tmp/s:1')).toEqualTypeOf<PathAddress>(); // parseAddress reads a leading / first
    expectTypeOf(await server.listen(t, { path: '/tmp/s' })).toEqualTypeOf<PathAddress>();
  });

  it('gives the union where the type cannot tell, as before', async () => {
    expectTypeOf(await server.listen(t, fromConfig)).toEqualTypeOf<Address>();
    expectTypeOf(await server.listen(t, given)).toEqualTypeOf<HostAddress | PathAddress>();
    expectTypeOf<BoundAddress<string | Address>>().toEqualTypeOf<Address>();
    expectTypeOf<BoundAddress<' /tmp/s:1'>>().toEqualTypeOf<Address>(); // trimmed by parseAddress: a path, though it reads as host:port
    expectTypeOf<BoundAddress<'nonsense'>>().toEqualTypeOf<Address>();
    // Code written for the union still compiles.
    const a = await server.listen(t, '127.0.0.1:0');
    const text = 'path' in a ? `unix:${String(a.path)}` : `${a.host}:${a.port}`;
    expectTypeOf(text).toEqualTypeOf<string>();
    expectTypeOf(server.listen).parameter(1).toEqualTypeOf<string | Address>();
  });
});
