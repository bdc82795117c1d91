import { ErrorCode, RemoteError, RpcError } from '@skein/core';
import { cleanups, waitFor } from '@skein/test-utils';
import { wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter, type Caller } from '../src/index.js';

/*
 * Calls both ways held to the largest frame each side's transport carries (review 432 F1, F2):
 * a reverse call whose message and blob each fit the client's limits but not together its
 * kind-1 max_frame, and a client's reverse answer over the server's kind-26 max_frame, were
 * sent, and the receiving socket closed 1009 with every call on the connection. Each is now
 * refused alone (FrameTooLarge, naming the option) and the connection stays. Small caps (64 KiB)
 * stand in for the defaults.
 */
const cleanup = cleanups();
const KiB = 1024;
const CAP = 64 * KiB;

const outcome = (caller: Caller, action: string, msg: Uint8Array, blob?: Uint8Array): Promise<string> =>
  new Promise((resolve) => {
    caller.send(action, msg, { blob }, (err, reply) =>
      resolve(!err ? `ran ${reply!.msg.length} + ${reply!.blob.length}` : err instanceof RpcError ? `${err.code === ErrorCode.FrameTooLarge ? 'FrameTooLarge' : `code ${err.code}`}: ${err.message}` : `custom error ${String(err.payload)}`),
    );
  });

/** A ws server (its socket capped at `serverCap`) and a client that serves `serve` (its socket capped at `clientCap`), calls both ways agreed. */
async function start(serverCap: number | undefined, clientCap: number | undefined, serve: Parameters<typeof createRouter>[0]) {
  const server = new RpcServer({ dispatch: createRouter({ echo: (req) => req.msg }) });
  cleanup.push(() => server.close());
  const a = (await server.listen(wsTransport(serverCap === undefined ? {} : { maxWsMessageBytes: serverCap }), '127.0.0.1:0')) as { host: string; port: number };
  const client = await ClientStream.connect({
    transport: wsTransport(clientCap === undefined ? {} : { maxWsMessageBytes: clientCap }),
    address: `${a.host}:${a.port}`,
    keepaliveMs: 0,
    serve: createRouter(serve),
  });
  cleanup.push(() => client.destroy());
  // A forward call answered: the hello's answer is in on both sides.
  await client.call('echo', new Uint8Array(1));
  const caller = await waitFor(() => server.openConnections().find((c) => c.caller)?.caller, { what: 'calls both ways agreed' });
  return { client, caller };
}

describe("a reverse call over the largest frame the client's transport carries (its hello's kind-1 max_frame)", () => {
  it('is refused unsent when message and blob fit alone but not together, and the connection stays', async () => {
    let ran = 0;
    const { client, caller } = await start(undefined, CAP, {
      push: () => {
        ran++;
        return new Uint8Array(0);
      },
    });
    // Each part within the cap, both together over it.
    expect(await outcome(caller, 'push', new Uint8Array(40 * KiB), new Uint8Array(40 * KiB))).toMatch(
      /^FrameTooLarge: reverse call frame of \d+ bytes exceeds the largest frame .*'s transport carries, 65536 .*maxWsMessageBytes.*not sent/,
    );
    expect(ran).toBe(0);
    expect(client.state).toBe('open');
    expect(await outcome(caller, 'push', new Uint8Array(8), new Uint8Array(8))).toBe('ran 0 + 0');
    expect(await client.call('echo', new Uint8Array(3)).then((r) => r.msg.length)).toBe(3);
  });
});

describe("a client's reverse answer over the largest frame the server's transport carries (its hello's kind-26 max_frame)", () => {
  it('fails that answer alone (FrameTooLarge, naming the server option), and the connection stays', async () => {
    const { client, caller } = await start(CAP, undefined, {
      big: () => new Uint8Array(CAP),
      halves: () => ({ msg: new Uint8Array(CAP / 2), blob: new Uint8Array(CAP / 2) }),
      // The largest answer that fits: a request header (32) and the flag byte (1) before it.
      fits: () => new Uint8Array(CAP - 33),
      over: () => new Uint8Array(CAP - 32),
    });
    expect(await outcome(caller, 'big', new Uint8Array(1))).toMatch(
      /^FrameTooLarge: big: reverse answer frame of 65569 bytes exceeds the largest frame .*'s transport carries, 65536 .*maxWsMessageBytes/,
    );
    expect(await outcome(caller, 'halves', new Uint8Array(1))).toMatch(/^FrameTooLarge: halves: reverse answer frame of 65569 bytes .*maxWsMessageBytes/);
    expect(await outcome(caller, 'fits', new Uint8Array(1))).toBe(`ran ${CAP - 33} + 0`);
    expect(await outcome(caller, 'over', new Uint8Array(1))).toMatch(/^FrameTooLarge: over: reverse answer frame of 65537 bytes/);
    expect(client.state).toBe('open');
    expect(await client.call('echo', new Uint8Array(3)).then((r) => r.msg.length)).toBe(3);
  });
});

describe("a client's reverse answer over the server's limits where its cap does not cut them", () => {
  it("names the server's limit, not its cap, though the cap is named (a WebSocket server names it wherever set)", async () => {
    // 16 KiB limits under a 64 KiB cap: every answer they allow fits, and a frame over the cap has
    // a part over its limit, which is what to raise (raising maxWsMessageBytes would not help).
    const server = new RpcServer({ dispatch: createRouter({ echo: (req) => req.msg }), limits: { maxMessage: 16 * KiB, maxBlob: 16 * KiB } });
    cleanup.push(() => server.close());
    const a = (await server.listen(wsTransport({ maxWsMessageBytes: CAP }), '127.0.0.1:0')) as { host: string; port: number };
    const client = await ClientStream.connect({ transport: wsTransport(), address: `${a.host}:${a.port}`, keepaliveMs: 0, serve: createRouter({ big: () => new Uint8Array(100 * KiB) }) });
    cleanup.push(() => client.destroy());
    await client.call('echo', new Uint8Array(1));
    const caller = await waitFor(() => server.openConnections().find((c) => c.caller)?.caller, { what: 'calls both ways agreed' });
    expect(await outcome(caller, 'big', new Uint8Array(1))).toMatch(/^FrameTooLarge: big: reverse answer message of 102400 bytes exceeds .*'s limit of 16383$/);
    expect(client.state).toBe('open');
  });
});

describe("a custom error over the largest frame the client's transport carries", () => {
  it("is refused with words naming the client's frame and option", async () => {
    const server = new RpcServer({
      dispatch: createRouter({
        big: () => {
          throw new RemoteError(new Uint8Array(CAP).fill(0x61));
        },
      }),
    });
    cleanup.push(() => server.close());
    const a = (await server.listen(wsTransport(), '127.0.0.1:0')) as { host: string; port: number };
    const client = await ClientStream.connect({ transport: wsTransport({ maxWsMessageBytes: CAP }), address: `${a.host}:${a.port}`, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const words = await client.call('big').then(
      () => 'ran',
      (e: RpcError) => `${e.code === ErrorCode.FrameTooLarge ? 'FrameTooLarge' : `code ${e.code}`}: ${e.message}`,
    );
    expect(words).toMatch(/^FrameTooLarge: big: error reply frame of \d+ bytes exceeds the largest frame the client's transport carries, 65536 .*maxWsMessageBytes/);
    expect(client.state).toBe('open');
  });
});
