import net from 'node:net';
import { ErrorCode, type RpcError } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream } from '../src/index.js';
import { GOODBYE_ENTRY } from '../src/wire/goodbye.js';
import { HelloRole, encodeHello } from '../src/wire/hello.js';
import { SERVER_PING_FLAG, SERVER_PINGS_ENTRY, SERVER_PONG_ACTION } from '../src/wire/server-pings.js';
import { HELLO_ACTION } from '../src/wire/protocol.js';
import { golden } from './golden.js';
import { requestFrames, responseFrame, transport } from './harness.js';

const cleanup = cleanups();

/*
 * A server pings a client only where its hello answer agreed kind 21 (docs/protocol.md, "Server
 * pings"). A ping from one that did not is an extension frame not agreed: a broken or hostile
 * server's, which closes the connection (FrameError) as an unknown flag does, its calls failing
 * IO, may have run. Before, the client answered it with a pong and went on.
 */

const CALLS = 3;
const ACTION = 1;
const AGREES_PINGS = responseFrame(0, 0, encodeHello(HelloRole.Answer, [SERVER_PINGS_ENTRY]));
const AGREES_GOODBYE_ONLY = responseFrame(0, 0, encodeHello(HelloRole.Answer, [GOODBYE_ENTRY]));
const AGREES_NOTHING = responseFrame(0, 0, encodeHello(HelloRole.Answer, []));

/**
 * A raw TCP server that answers the hello with `hello` and, on reading the last of CALLS calls,
 * pings. On reading a pong it answers every call (`ok`, 1 byte); so a client that closes on the
 * ping gets no answer, and one that answers it gets all. `pongs()` counts the pongs it read.
 */
async function pingingServer(hello: Uint8Array, ping: Uint8Array = golden.serverPing): Promise<{ address: string; pongs: () => number }> {
  let pongs = 0;
  const server = net.createServer((s) => {
    s.on('error', () => {});
    let got = new Uint8Array(0);
    let answered = false;
    let pinged = false;
    let done = false;
    s.on('data', (chunk: Buffer) => {
      got = new Uint8Array(Buffer.concat([got, chunk]));
      // Re-read from the start each time: whole frames only, a few of them.
      const frames = requestFrames(got);
      if (!answered && frames.some((f) => f.action === HELLO_ACTION)) (answered = true), s.write(hello);
      const calls = frames.filter((f) => f.action === ACTION);
      if (!pinged && calls.length >= CALLS) (pinged = true), s.write(ping);
      pongs = frames.filter((f) => f.action === SERVER_PONG_ACTION).length;
      if (!done && pongs > 0) (done = true), calls.forEach((c) => s.write(responseFrame(0, c.seq, new Uint8Array([7]))));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  return { address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, pongs: () => pongs };
}

/** CALLS calls on a new client, as they end: answered, or failed with code, retry and message. */
async function outcomes(address: string): Promise<{ code: number; retry: string; message: string }[]> {
  const client = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
  cleanup.push(() => client.destroy());
  const calls = Array.from({ length: CALLS }, () => client.call(ACTION, new Uint8Array([1]), { timeoutMs: 10_000 }));
  return Promise.all(calls.map((c) => c.then(() => ({ code: -1, retry: 'answered', message: '' }), (e: RpcError) => ({ code: e.code, retry: e.retry, message: e.message }))));
}

describe('a server ping', () => {
  it('from a server whose hello agreed server pings: answered, and the connection goes on', async () => {
    const s = await pingingServer(AGREES_PINGS);
    expect(await outcomes(s.address)).toEqual(Array.from({ length: CALLS }, () => ({ code: -1, retry: 'answered', message: '' })));
    expect(s.pongs()).toBe(1);
  });

  it.each([
    ['agreed other extensions (goodbyes) but not server pings', AGREES_GOODBYE_ONLY],
    ['agreed nothing', AGREES_NOTHING],
  ])('from a server whose hello %s: not answered; the connection closes, every call fails IO, may have run', async (_, hello) => {
    const s = await pingingServer(hello);
    const got = await outcomes(s.address);
    for (const f of got) expect(f).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent', message: expect.stringMatching(/a server ping \(flag 25\) from a server whose hello did not agree server pings/) });
    expect(s.pongs()).toBe(0);
  });

  it('with a body (a ping has none), from a server that agreed pings: not answered; the connection closes, every call fails IO, may have run', async () => {
    const s = await pingingServer(AGREES_PINGS, responseFrame(SERVER_PING_FLAG, 0, new Uint8Array([1, 2, 3])));
    const got = await outcomes(s.address);
    for (const f of got) expect(f).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent', message: expect.stringMatching(/server ping with a body of 3 bytes/) });
    expect(s.pongs()).toBe(0);
  });
});
