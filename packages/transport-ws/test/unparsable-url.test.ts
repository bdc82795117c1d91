import { ErrorCode, RpcError, type Address } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { wsTransport, type StandardWebSocketCtor, type WsTransportOptions } from '../src/index.js';
import { spec } from './helpers.js';

// An Address object's host reaches the client unparsed: one no URL has made `new WebSocket(url)`
// throw a raw SyntaxError, "Invalid URL: ws://bad host:1/skein?token=…", the token in it.
describe.each([
  ['ws', {}],
  // ws's WebSocket behind the standard API stands in for a browser's, Bun's or Deno's.
  ['standard WebSocket API', { WebSocket: WebSocket as unknown as StandardWebSocketCtor }],
] as [string, WsTransportOptions][])('the %s client', (_name, options) => {
  it.each(['bad host', 'h%zz'])('refuses host %j with InvalidArgument naming the URL without its query', async (host) => {
    const address: Address = { host, port: 1 };
    const err = await wsTransport({ ...options, path: '/skein?token=s3cret' })
      .connect(address, spec, { timeoutMs: 10_000 })
      .catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.InvalidArgument)).toBe(true);
    expect((err as Error).message).toBe(`cannot open a WebSocket to ws://${host}:1/skein?…: SyntaxError`);
  });
});
