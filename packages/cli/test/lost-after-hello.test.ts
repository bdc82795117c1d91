import { createServiceDispatch, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { formatAddress } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { RpcServer } from '@skein/stream';
import { startTcpRelay, type TcpRelay } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { skein } from './skein-bin.js';

const Calc = service('Calc', { hang: method<void, void>() });

let server: RpcServer;
let relay: TcpRelay;

beforeAll(async () => {
  // The handler cuts the link its call came over (a server crashing, a link reset) and never answers.
  const impl = implement(Calc, { hang: () => (relay.cut(), new Promise<void>(() => {})) });
  server = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, services: [impl] }) });
  relay = await startTcpRelay(formatAddress(await server.listen(tcpTransport(nodeRuntime), '127.0.0.1:0')));
});
afterAll(async () => {
  await relay?.close();
  await server?.close();
});

// The server answered the hello, then the connection was lost: the operator reads that it was
// lost, not a guess that nothing came back and the address form may be wrong.
describe('a Skein server that answered, then lost the connection mid-call', () => {
  it.each([
    ['call', []],
    ['bench', ['--duration', '1']],
  ])('%s fails with IO and no wrong-transport hint (exit 1)', async (command, extra) => {
    const r = await skein(command, relay.address, 'Calc.hang', '--timeout', '5000', ...extra);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: IO \(rpc_io_err\): Calc\.hang: connection to 127\.0\.0\.1:\d+ lost/);
    expect(r.stderr).not.toMatch(/no answer came back|use that address form/);
  });
});
