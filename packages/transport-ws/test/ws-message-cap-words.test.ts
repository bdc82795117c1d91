import { ErrorCode, RpcError } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { CloseCode, uwsTransport, wsTransport } from '../src/index.js';
import { frame, rawClient, startServer, until } from './helpers.js';

/*
 * Trial: a ws server's log line for a client's message over its maxWsMessageBytes read
 * "websocket closed (1009 message too big): Max payload size exceeded", ws's own words, which
 * name no option of ours: which one to raise, the operator had to guess. The connection's
 * error (what the server logs) now names it, with its value.
 */
const cleanup = cleanups();

describe("a message over a ws server's maxWsMessageBytes", () => {
  it("fails the connection with an error naming the option and its value", async () => {
    const s = await startServer(wsTransport({ maxWsMessageBytes: 1024 }), { echo: true });
    cleanup.push(() => s.listener.close());
    const raw = await rawClient(s.url());
    await until(() => s.accepted.length === 1, 'accept');
    raw.ws.send(frame(new Uint8Array(2048)));
    expect((await raw.closed.promise).code).toBe(CloseCode.TooBig);
    const err = await s.accepted[0]!.closed.promise;
    expect(RpcError.is(err, ErrorCode.FrameTooLarge)).toBe(true);
    expect(err!.message).toMatch(/^websocket closed \(1009 message too big\): Max payload size exceeded: a WebSocket message is over maxWsMessageBytes \(1024\)$/);
  });

  // uWS closes 1006 "Received too big message" (its maxPayloadLength, set from the option): the
  // operator reading the server's line had no option named either.
  it('fails a uWS server connection with an error naming the option and its value', async () => {
    const s = await startServer(uwsTransport({ maxWsMessageBytes: 1024 }), { echo: true });
    cleanup.push(() => s.listener.close());
    const raw = await rawClient(s.url());
    await until(() => s.accepted.length === 1, 'accept');
    raw.ws.send(frame(new Uint8Array(2048)));
    await raw.closed.promise;
    const err = await s.accepted[0]!.closed.promise;
    expect(RpcError.is(err, ErrorCode.FrameTooLarge)).toBe(true);
    expect(err!.message).toMatch(/^websocket closed \(1006 abnormal closure\): Received too big message: a WebSocket message is over maxWsMessageBytes \(1024\)$/);
  });
});
