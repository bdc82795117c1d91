import { ErrorCode, RpcError } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { wsTransport, type StandardWebSocketCtor, type WsTransportOptions } from '../src/index.js';
import { spec, startServer } from './helpers.js';

const cleanup = cleanups();

// No headers, however said (`null` too, which the standard client once read the keys of and threw
// a raw TypeError on), is no reason to refuse a connection on either client.
describe.each([
  ['ws', {}],
  // ws's WebSocket behind the standard API stands in for a browser's, Bun's or Deno's.
  ['standard WebSocket API', { WebSocket: WebSocket as unknown as StandardWebSocketCtor }],
] as [string, WsTransportOptions][])('the %s client', (_name, options) => {
  it.each([['none', undefined], ['null', null], ['{}', {}]] as const)('connects with headers %s', async (_how, headers) => {
    const s = await startServer(wsTransport());
    cleanup.push(() => s.listener.close());
    const conn = await wsTransport({ ...options, headers }).connect({ host: '127.0.0.1', port: s.port }, spec, { timeoutMs: 10_000 });
    cleanup.push(() => conn.close());
    expect(conn.remote).toBe(`127.0.0.1:${s.port}`);
  });
});

it('the standard WebSocket API client still refuses headers it cannot send', async () => {
  const err = await wsTransport({ WebSocket: WebSocket as unknown as StandardWebSocketCtor, headers: { 'x-token': 'a' } })
    .connect({ host: '127.0.0.1', port: 1 }, spec, { timeoutMs: 10_000 })
    .catch((e: unknown) => e);
  expect(RpcError.is(err, ErrorCode.InvalidArgument)).toBe(true);
});
