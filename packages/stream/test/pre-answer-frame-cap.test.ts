import { ErrorCode, parseAddress, type RpcError, type Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { cleanups, deferred, muteServer, portOf, startRazorServer, within } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';
import { preAnswerRoomFor } from '../src/client/frame-limit.js';
import { requestFrameSpec } from '../src/wire/frame-specs.js';
import { DEFAULT_LIMITS } from '../src/wire/limits.js';
import { HELLO_ACTION, PING_ACTION, readRequestHeader } from '../src/wire/protocol.js';
import { transport as defaultTcp } from './harness.js';

/*
 * Frames a client writes before its hello's answer is in (docs/transports.md, "Frame caps"): no
 * cap was known yet, so a call made as the connect resolved went out whatever its size, alone or
 * packed with others into one WebSocket message. Over the server's transport cap, the server's
 * socket closed the connection (1009 over WebSocket; over TCP, the pending-frame budget) and
 * every call on it failed IO "may have executed", though none ran. Now such calls wait for the
 * answer past PRE_ANSWER_BYTES and are then refused unsent (over the cap) or sent.
 */
const cleanup = cleanups();
const KiB = 1024;

async function start(transport: Transport) {
  let runs = 0;
  const server = new RpcServer({ dispatch: createRouter({ echo: (req) => (runs++, new Uint8Array([req.msg.length > 0 ? 1 : 0])) }) });
  cleanup.push(() => server.close());
  const address = `127.0.0.1:${portOf(await server.listen(transport, '127.0.0.1:0'))}`;
  return { address, runs: () => runs };
}

/** A client whose first calls leave before the hello's answer: nothing awaited after the connect. */
async function connect(transport: Transport, address: string, opts: { window?: number; maxQueued?: number } = {}): Promise<ClientStream> {
  const s = await ClientStream.connect({ transport, address, keepaliveMs: 0, ...opts });
  cleanup.push(() => s.destroy());
  expect(s.dialect).toBe('pending');
  return s;
}

const outcome = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'ran',
    (e: RpcError) => `${e.code === ErrorCode.FrameTooLarge ? 'FrameTooLarge' : `code ${e.code}`} ${e.retry}: ${e.message}`,
  );

describe("calls made before the hello's answer, over the server's transport cap", () => {
  it('WebSocket: one over the cap is refused unsent, and the call beside it runs on the kept connection', async () => {
    const s = await start(wsTransport({ maxWsMessageBytes: 64 * KiB }));
    const client = await connect(wsTransport(), s.address);
    const big = outcome(client.call('echo', new Uint8Array(100 * KiB)));
    const small = outcome(client.call('echo', new Uint8Array(8)));
    expect(await big).toMatch(/^FrameTooLarge safe: request frame of \d+ bytes exceeds .*65536 .*maxWsMessageBytes.*not sent$/);
    expect(await small).toBe('ran');
    expect(client.state).toBe('open');
    expect(await outcome(client.call('echo', new Uint8Array(8)))).toBe('ran');
    expect(s.runs()).toBe(2);
  });

  it('WebSocket: several within the cap but over it together all run (no message packed over it)', async () => {
    const s = await start(wsTransport({ maxWsMessageBytes: 64 * KiB }));
    const client = await connect(wsTransport(), s.address);
    // Eight of 12 KiB: each frame within the cap, the first flush of all of them 96 KiB.
    const calls = Array.from({ length: 8 }, () => outcome(client.call('echo', new Uint8Array(12 * KiB))));
    expect(await Promise.all(calls)).toEqual(Array(8).fill('ran'));
    expect(client.state).toBe('open');
    expect(s.runs()).toBe(8);
  });

  it('TCP: one over the pending-frame budget is refused unsent, and the connection is kept', async () => {
    const s = await start(tcpTransport(nodeRuntime, { maxPendingFrameBytes: 64 * KiB }));
    const client = await connect(defaultTcp, s.address);
    const big = outcome(client.call('echo', new Uint8Array(100 * KiB)));
    const small = outcome(client.call('echo', new Uint8Array(8)));
    expect(await big).toMatch(/^FrameTooLarge safe: request frame of \d+ bytes exceeds .*65536 .*maxPendingFrameBytes.*not sent$/);
    expect(await small).toBe('ran');
    expect(client.state).toBe('open');
    expect(s.runs()).toBe(1);
  });

  it('to a server that names no cap (razor v1, and a Skein server whose transport carries its limits), they wait for the answer and run', async () => {
    const razor = await startRazorServer({ echo: (msg) => new Uint8Array([msg.length > 0 ? 1 : 0]) });
    cleanup.push(() => razor.close());
    const skein = await start(defaultTcp);
    for (const address of [razor.address, skein.address]) {
      const client = await connect(defaultTcp, address);
      const calls = [outcome(client.call('echo', new Uint8Array(100 * KiB))), ...Array.from({ length: 4 }, () => outcome(client.call('echo', new Uint8Array(12 * KiB))))];
      expect(await Promise.all(calls)).toEqual(Array(5).fill('ran'));
    }
    expect(skein.runs()).toBe(5);
  });
});

describe("the first WebSocket message, the hello in it, within the 16 KiB the client allows itself", () => {
  it('a call whose frame fits 16 KiB alone but not beside the hello (and the ping a held call sends) runs, on the kept connection', async () => {
    // uWebSockets.js's default: the whole first message, hello and all, must fit it.
    const s = await start(wsTransport({ maxWsMessageBytes: 16 * KiB }));
    // Frames of 16 KiB - 256 up to 16 KiB (header 32, action 4): every one near the edge, whatever the hello's length.
    const sizes = Array.from({ length: 33 }, (_, i) => 16 * KiB - 256 + i * 8 - 36);
    const outcomes: string[] = [];
    for (const size of sizes) {
      const client = await connect(wsTransport(), s.address);
      // The small one behind it waits for the answer, and a ping goes to ask for it.
      const calls = [outcome(client.call('echo', new Uint8Array(size))), outcome(client.call('echo', new Uint8Array(8)))];
      outcomes.push(`${size}: ${(await Promise.all(calls)).join(', ')} ${client.state}`);
      client.destroy();
    }
    expect(outcomes).toEqual(sizes.map((size) => `${size}: ran, ran open`));
    expect(s.runs()).toBe(2 * sizes.length);
  });

  /** A call whose frame (header 32, action 'echo' 4) fills exactly the room the client allows itself beside its hello. */
  const roomFilling = (client: ClientStream) => new Uint8Array(preAnswerRoomFor(client.hello.request, true) - 36);

  it("a ping() made before the answer, beside the ping that asks for it, still fits (two pings, not one)", async () => {
    const s = await start(wsTransport({ maxWsMessageBytes: 16 * KiB }));
    const client = await connect(wsTransport(), s.address);
    const calls = [outcome(client.call('echo', roomFilling(client))), outcome(client.call('echo', new Uint8Array(8)))];
    // The call behind the first waits for the answer and sends the verdict ping; this one is the caller's own.
    const pinged = client.ping().then(() => 'pong', (e: Error) => e.message);
    expect([...(await Promise.all(calls)), await pinged, client.state]).toEqual(['ran', 'ran', 'pong', 'open']);
    expect(s.runs()).toBe(2);
  });

  it('headed calls aborted at once, never sent, write no CANCEL into it (nor anywhere)', async () => {
    // A WebSocket listener at 16 KiB that never answers the hello, noting the action of each frame it reads.
    const actions: string[] = [];
    const called = deferred<void>();
    const listener = await wsTransport({ maxWsMessageBytes: 16 * KiB }).listen(parseAddress('127.0.0.1:0'), requestFrameSpec(DEFAULT_LIMITS), (conn) => {
      conn.bind({
        frame: (bytes, start) => {
          const { action } = readRequestHeader(bytes.subarray(start));
          actions.push(action === HELLO_ACTION ? 'hello' : action === PING_ACTION ? 'ping' : action === -1 ? 'call' : `action ${action.toString(16)}`);
          if (action === -1) called.resolve();
        },
        drain: () => {},
        close: (err) => {
          actions.push(`closed: ${err?.message}`);
          called.resolve();
        },
      });
    });
    cleanup.push(() => listener.close());
    const client = await connect(wsTransport(), `127.0.0.1:${portOf(listener.address)}`);
    // Each with a signal (a head), aborted as soon as made: held for the answer (their frames counted in the room), then, once the room is full, kept by the window.
    const abortedAtOnce = (n: number) =>
      Array.from({ length: n }, () => {
        const ac = new AbortController();
        const p = outcome(client.call('echo', new Uint8Array(8), { signal: ac.signal }));
        ac.abort();
        return p;
      });
    const held = abortedAtOnce(8);
    // What is left of the room after the eight (44 bytes a frame), filled: the next 64 wait in the window.
    void client.call('echo', new Uint8Array(roomFilling(client).length - 8 * 44)).catch(() => {});
    const kept = abortedAtOnce(64);
    const cancelled = `code ${ErrorCode.Cancelled} never: call cancelled: its signal, or the call it was made for, aborted`;
    expect(new Set(await Promise.all([...held, ...kept]))).toEqual(new Set([cancelled]));
    // One message, read whole: every frame of it is noted once the call is. The first held call asked for the answer with a ping.
    await within(called.promise, 10_000, 'the call');
    expect(actions).toEqual(['hello', 'ping', 'call']);
  });
});

describe("calls held for the hello's answer", () => {
  it('those the window would have taken do not count against maxQueued; past them it bounds as it did', async () => {
    const s = await start(defaultTcp);
    const client = await connect(defaultTcp, s.address, { window: 2, maxQueued: 1 });
    // The first, over 16 KiB, holds every call for the answer: two the window takes, one that waits, one refused.
    const calls = [outcome(client.call('echo', new Uint8Array(20 * KiB))), ...Array.from({ length: 3 }, () => outcome(client.call('echo', new Uint8Array(8))))];
    expect(await Promise.all(calls)).toEqual(['ran', 'ran', 'ran', `code ${ErrorCode.Overloaded} safe: more than 1 calls waiting on ${s.address}`]);
    expect(s.runs()).toBe(3);
  });

  it('one that times out says it waited for the server\'s answer to the hello, not for the window', async () => {
    const mute = await muteServer();
    const client = await connect(defaultTcp, mute.address);
    const big = outcome(client.call('echo', new Uint8Array(20 * KiB), { timeoutMs: 50 }));
    const small = outcome(client.call('echo', new Uint8Array(8), { timeoutMs: 50 }));
    const hello = `code ${ErrorCode.Timeout} safe: call waited 50 ms for ${mute.address}'s answer to the hello and was never sent`;
    expect([await big, await small]).toEqual([hello, hello]);
  });
});
