import { ErrorCode, RpcError } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { ClientStream, FailoverPool } from '../src/index.js';
import { countingServer, transport as tcp } from './harness.js';

const cleanup = cleanups();
const refused = (e: unknown, words: RegExp): void => {
  expect(RpcError.is(e, ErrorCode.InvalidArgument), String(e)).toBe(true);
  expect((e as Error).message).toMatch(words);
};
const WS_ON_TCP = /^tcpTransport cannot use ws:\/\/127\.0\.0\.1:\d+: ws:\/\/ and wss:\/\/ addresses are for wsTransport/;

// An operator's `ws://host:port` to a TCP server connected and called as plain TCP: the scheme
// was dropped by parseAddress, and by a pool's canonical form. A call must never have run.
describe('an address written for another transport', () => {
  it('is refused by ClientStream.connect and by a FailoverPool, as a ws:// address to a TCP server', async () => {
    const server = await countingServer(tcp, cleanup);
    const at = `ws://127.0.0.1:${server.port}`;
    refused(await ClientStream.connect({ transport: tcp, address: at }).then((s) => (void s.close(), 'connected'), (e: unknown) => e), WS_ON_TCP);
    const pool = new FailoverPool({ transport: tcp, servers: [at] });
    cleanup.push(() => pool.close());
    refused(await pool.call(1, new Uint8Array(), { timeoutMs: 10_000 }).then(() => 'answered', (e: unknown) => e), WS_ON_TCP);
    expect(server.ran()).toBe(0);
  });

  it('is refused by ClientStream.connect as a tcp:// address to a WebSocket server', async () => {
    const ws = wsTransport();
    const server = await countingServer(ws, cleanup);
    const e = await ClientStream.connect({ transport: ws, address: `tcp://127.0.0.1:${server.port}` }).then((s) => (void s.close(), 'connected'), (err: unknown) => err);
    refused(e, /^wsTransport cannot use tcp:\/\/127\.0\.0\.1:\d+: a tcp:\/\/ address is for tcpTransport/);
    expect(server.ran()).toBe(0);
  });
});
