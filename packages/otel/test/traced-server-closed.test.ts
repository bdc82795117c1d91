import { ErrorCode, RpcError, formatAddress, type Address } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, RpcServer, createRouter } from '@skein/stream';
import { ManualClock, memoryLogger } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { expect, it } from 'vitest';
import { tracedDispatch } from '../src/index.js';
import { telemetry } from './otel-harness.js';

// A traced dispatch passes the server's close on to the one it wraps: the withheld failures the
// inner one counted since its last line are said then, not lost with the server.

it("tracedDispatch passes the server's close on: the inner dispatch's pending withheld counts are said", async () => {
  const transport = tcpTransport(nodeRuntime);
  const { otel } = telemetry();
  const clock = new ManualClock();
  const logger = memoryLogger();
  const inner = createRouter({ op: () => { throw new RpcError(ErrorCode.Unreachable, 'cannot connect to 10.1.2.3:7000'); } }, { logger, withheldLog: { clock, intervalMs: 1000 } });
  const server = new RpcServer({ dispatch: tracedDispatch(inner, otel) });
  const address = formatAddress((await server.listen(transport, '127.0.0.1:0')) as Address);
  const peer = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
  try {
    for (let i = 0; i < 3; i++) await expect(peer.call('op')).rejects.toMatchObject({ code: ErrorCode.Unreachable });
  } finally {
    peer.destroy();
    await server.close();
  }
  expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(['op failed with Unreachable', '2 more failed op calls with Unreachable: not logged one by one']);
  expect(clock.running).toBe(0);
});
