import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError, parseAddress, type Address, type Runtime } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { cleanups } from '@skein/test-utils';
import { tcpTransport } from '../src/index.js';
import { serve } from './harness.js';
import { spec } from './spec.js';

const cleanup = cleanups();

/** The Node runtime, counting what the transport asks of it: a refused address dials and binds nothing. */
function countedRuntime(): { runtime: Runtime; dials: Address[]; binds: Address[] } {
  const dials: Address[] = [];
  const binds: Address[] = [];
  const runtime: Runtime = { ...nodeRuntime, connect: (a, o) => (dials.push(a), nodeRuntime.connect(a, o)), listen: (a, accept, o) => (binds.push(a), nodeRuntime.listen(a, accept, o)) };
  return { runtime, dials, binds };
}

const invalid = (e: unknown): string => {
  expect(RpcError.is(e, ErrorCode.InvalidArgument)).toBe(true);
  return (e as RpcError).message;
};

// An operator's ws:// address to a TCP server connected and pinged as plain TCP: parseAddress
// dropped the scheme of a ws:// URL without a path, and the TCP transport ignored a URL path.
describe('tcpTransport refuses a WebSocket address', () => {
  const forms = (port: number): (string | Address)[] => [`ws://127.0.0.1:${port}`, `wss://127.0.0.1:${port}`, `ws://127.0.0.1:${port}/skein`, { host: '127.0.0.1', port, urlPath: '/skein' }];

  it('at connect, to a real TCP server, dialling nothing', async () => {
    const server = await serve(tcpTransport(nodeRuntime));
    cleanup.push(() => server.listener.close());
    const { port } = server.listener.address as { port: number };
    const { runtime, dials } = countedRuntime();
    const transport = tcpTransport(runtime);
    for (const form of forms(port)) {
      const why = invalid(await transport.connect(parseAddress(form), spec).then((c) => (c.close(), undefined), (e: unknown) => e));
      expect(why).toMatch(/^tcpTransport cannot use wss?:\/\/127\.0\.0\.1:\d+(\/skein)?: ws:\/\/ and wss:\/\/ addresses are for wsTransport or uwsTransport; tcpTransport takes host:port, tcp:\/\/host:port, tls:\/\/host:port/);
    }
    expect(dials).toEqual([]);
    expect(server.accepted).toEqual([]);
    // Its own forms still dial.
    for (const form of [`127.0.0.1:${port}`, `tcp://127.0.0.1:${port}`]) (await transport.connect(parseAddress(form), spec)).close();
    expect(dials).toHaveLength(2);
  });

  // A page's token goes in a ws URL's query: the refusal, which may be logged, leaves it out.
  it("names the address without a ws URL's query, at connect and at listen", async () => {
    const { runtime, dials, binds } = countedRuntime();
    const transport = tcpTransport(runtime);
    for (const form of ['ws://127.0.0.1:1/skein?token=SECRET', 'wss://127.0.0.1:1?token=SECRET', { host: '127.0.0.1', port: 1, urlPath: '/skein?token=SECRET' }]) {
      const atConnect = invalid(await transport.connect(parseAddress(form), spec).then((c) => (c.close(), undefined), (e: unknown) => e));
      const atListen = invalid(await transport.listen(parseAddress(form), spec, () => {}).then((l) => (void l.close(), undefined), (e: unknown) => e));
      for (const why of [atConnect, atListen]) {
        expect(why).toMatch(/^tcpTransport cannot use wss?:\/\/127\.0\.0\.1:(1|443)\/(skein)?\?…: ws:\/\/ and wss:\/\/ addresses are for wsTransport/);
        expect(why).not.toContain('SECRET');
      }
    }
    expect(dials).toEqual([]);
    expect(binds).toEqual([]);
  });

  it('at listen, binding nothing', async () => {
    const { runtime, binds } = countedRuntime();
    const transport = tcpTransport(runtime);
    for (const form of forms(0)) invalid(await transport.listen(parseAddress(form), spec, () => {}).then((l) => (void l.close(), undefined), (e: unknown) => e));
    expect(binds).toEqual([]);
    const listener = await transport.listen(parseAddress('tcp://127.0.0.1:0'), spec, () => {});
    cleanup.push(() => listener.close());
    expect(binds).toHaveLength(1);
  });
});
