// The kit's bad-address check (src/bad-addresses.ts), on the client side of the transport: it
// passes this repository's TCP and ws transports, and names a connect that hands a malformed
// address to its socket API unchecked, or dials one written for another transport.
import type { Transport } from '@skein/core';
import { runtime } from '@skein/runtime';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { badAddressProblems } from '../src/bad-addresses.js';
import { checkServers, passesRightTransports } from './check-servers.js';
import { mutantTransport } from './mutant-transports.js';

const BOUND_MS = 5_000;
const serve = checkServers();

const problemsOf = async (server: Transport, client: Transport): Promise<string[]> => badAddressProblems(client, await serve(server), BOUND_MS);

describe('the bad-address check', () => {
  const tcp = tcpTransport(runtime);
  passesRightTransports(problemsOf);

  it('names a connect that dials an empty host as localhost and lets the socket API throw for a port out of range', async () => {
    expect(await problemsOf(tcp, mutantTransport(tcp, { uncheckedAddress: true }))).toEqual([
      expect.stringMatching(/^connect\(\{ host: "", port: \d+ \}\), an empty host, resolved with a connection: reject with RpcError\(InvalidArgument\)/),
      expect.stringMatching(/^connect\(\{ host: "127\.0\.0\.1", port: 65536 \}\), port 65536, rejected with RangeError: Port should be >= 0 and < 65536\. Received 65536\. \(not an RpcError\)/),
      expect.stringMatching(/^connect\(\{ host: "127\.0\.0\.1", port: -1 \}\), port -1, rejected with RangeError/),
      expect.stringMatching(/^connect\(\{ host: "127\.0\.0\.1", port: 1\.5 \}\), port 1\.5, rejected with RangeError/),
      expect.stringMatching(/^connect\(\{ host: "127\.0\.0\.1", port: NaN \}\), port NaN, rejected with RangeError/),
    ]);
  });

  // A transport made before schemes, or that ignores Address.scheme: each dials its own protocol there.
  it('names a connect that dials an address written for another transport as its own', async () => {
    for (const t of [tcp, wsTransport()]) {
      expect(await problemsOf(t, mutantTransport(t, { dialsAnyScheme: true }))).toEqual([
        expect.stringMatching(/^connect\(\) of addresses written for each transport .*refused neither \(tcp:\/\/ resolved with a connection; ws:\/\/ resolved with a connection\): one names another transport/),
      ]);
    }
  });

  // Not told its scheme, the kit passes a transport that refuses either one: one of neither kind
  // (in-process) that dials tcp:// as its own passed, and so did a ws one taken for TCP.
  it("told the transport's own scheme, names each address written for another that it does not refuse", async () => {
    const ws = wsTransport();
    expect(await badAddressProblems(tcp, await serve(tcp), BOUND_MS, 'tcp')).toEqual([]);
    expect(await badAddressProblems(ws, await serve(ws), BOUND_MS, 'ws')).toEqual([]);
    expect(await badAddressProblems(tcp, await serve(tcp), BOUND_MS, 'none')).toEqual([
      expect.stringMatching(/^connect\(\) of a tcp:\/\/ address, written for another transport \(this one's own scheme: none\), at the server's host and port, resolved with a connection: a transport of neither kind refuses any address with a scheme/),
    ]);
    expect(await badAddressProblems(ws, await serve(ws), BOUND_MS, 'tcp')).toEqual([
      expect.stringMatching(/^connect\(\) of a ws:\/\/ address, written for another transport \(this one's own scheme: tcp:\/\/\), .*resolved with a connection: reject it with RpcError\(InvalidArgument\) \(core's addressFor/),
    ]);
  });

  it('names a connect that throws before returning its promise', async () => {
    const throwing: Transport = {
      ...tcp,
      connect: (address, spec, options) => {
        if ('path' in address && address.path === '') throw new TypeError('path must be a non-empty string');
        return tcp.connect(address, spec, options);
      },
    };
    expect(await problemsOf(tcp, throwing)).toEqual([
      expect.stringMatching(/^connect\(\{ path: "" \}\), an empty Unix socket path, threw TypeError: path must be a non-empty string \(not an RpcError\) before returning its promise/),
    ]);
  });
});
