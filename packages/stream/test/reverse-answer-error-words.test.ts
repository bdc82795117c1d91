import { ErrorCode, RemoteError, RpcError } from '@skein/core';
import { cleanups, portOf, waitFor } from '@skein/test-utils';
import { wsTransport, type WsTransportOptions } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type Caller, type RpcServerOptions } from '../src/index.js';

/*
 * A client's reverse answer that is a custom error (RemoteError bytes) over what the server reads
 * in an answer: refused FrameTooLarge as a reply over them is, but worded "exceeds the client's
 * limit of N", the words a server writes of its own replies, where the limit (or the frame) is
 * the server's, named in its hello's answer. Now worded as any reverse answer over them.
 */
const cleanup = cleanups();
const KiB = 1024;

async function start(transport: WsTransportOptions, opts: Partial<RpcServerOptions>, size: number) {
  const server = new RpcServer({ dispatch: createRouter({ echo: (req) => req.msg }), ...opts });
  cleanup.push(() => server.close());
  const address = `127.0.0.1:${portOf(await server.listen(wsTransport(transport), '127.0.0.1:0'))}`;
  const serve = createRouter({
    fail: () => {
      throw new RemoteError(new Uint8Array(size).fill(0x61));
    },
  });
  const client = await ClientStream.connect({ transport: wsTransport(), address, keepaliveMs: 0, serve });
  cleanup.push(() => client.destroy());
  await client.call('echo', new Uint8Array(1)); // the hello's answer is in on both sides
  const caller = await waitFor(() => server.openConnections().find((c) => c.caller)?.caller, { what: 'calls both ways agreed' });
  return { client, caller };
}

const words = (caller: Caller): Promise<string> =>
  new Promise((resolve) => {
    caller.send('fail', new Uint8Array(1), {}, (err) => resolve(err instanceof RpcError ? `${err.code === ErrorCode.FrameTooLarge ? 'FrameTooLarge' : `code ${err.code}`}: ${err.message}` : `other ${String(err)}`));
  });

describe("a reverse answer's custom error over what the server reads", () => {
  it("over the server's limits: names the server's limit, not the client's", async () => {
    // The server reads at most 4 KiB of an answer's blob: an error string is held to the lesser limit.
    const { client, caller } = await start({}, { limits: { maxBlob: 4 * KiB } }, 5 * KiB);
    const got = await words(caller);
    expect(got).toMatch(/^FrameTooLarge: fail: reverse answer error of 5120 bytes exceeds 127\.0\.0\.1:\d+'s limit of 4096 \(its hello's answer\)/);
    expect(got).not.toMatch(/client's/);
    expect(client.state).toBe('open');
  });

  it("over the largest frame the server's transport carries: names it and the server's option", async () => {
    const { client, caller } = await start({ maxWsMessageBytes: 64 * KiB }, {}, 64 * KiB);
    const got = await words(caller);
    expect(got).toMatch(/^FrameTooLarge: fail: reverse answer error frame of 65569 bytes exceeds the largest frame 127\.0\.0\.1:\d+'s transport carries, 65536 \(its hello's answer: the server's maxWsMessageBytes/);
    expect(got).not.toMatch(/client's/);
    expect(client.state).toBe('open');
  });
});
