import net from 'node:net';
import { ErrorCode, RpcError } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream } from '../src/index.js';
import { GOODBYE_ENTRY, GOODBYE_FLAG } from '../src/wire/goodbye.js';
import { HelloRole, encodeHello } from '../src/wire/hello.js';
import { HELLO_ACTION, RESPONSE_HEADER_LENGTH } from '../src/wire/protocol.js';
import { errorStringFrame, golden } from './golden.js';
import { requestFrames, responseFrame, transport } from './harness.js';

const cleanup = cleanups();

/*
 * A goodbye makes the calls still unanswered fail Closed, `retry: 'safe'` (never ran), which a
 * pool sends elsewhere, idempotent or not. A broken or hostile server's goodbye must not: one its
 * hello never agreed, one with a body, or one followed by anything (the goodbye is the last frame). Before, all
 * three calls below read 'safe' although the server had read them (and, in one case, answered
 * one after its goodbye).
 */

/** The hello answers: agreeing goodbyes and nothing else; and a razor v1 server's (`rpc_decode`), agreeing nothing. */
const AGREES_GOODBYE = responseFrame(0, 0, encodeHello(HelloRole.Answer, [GOODBYE_ENTRY]));
const V1_ANSWER = errorStringFrame(0, 'rpc_decode');
const CALLS = 3;
const ACTION = 1;

/** A raw TCP server that answers the hello with `hello` and, on reading the last of CALLS calls, writes `last(seq)` and ends the connection. */
async function brokenGoodbyeServer(hello: Uint8Array, last: (seq: number) => Uint8Array): Promise<string> {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    let got = new Uint8Array(0);
    let answered = false;
    let ended = false;
    s.on('data', (chunk: Buffer) => {
      got = new Uint8Array(Buffer.concat([got, chunk]));
      // Re-read from the start each time: whole frames only, a few of them.
      const frames = requestFrames(got);
      if (!answered && frames.some((f) => f.action === HELLO_ACTION)) (answered = true), s.write(hello);
      const calls = frames.filter((f) => f.action === ACTION);
      if (!ended && calls.length >= CALLS) (ended = true), s.end(last(calls[CALLS - 1]!.seq));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

async function failures(address: string): Promise<{ code: number; retry: string; message: string }[]> {
  const client = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
  cleanup.push(() => client.destroy());
  const calls = Array.from({ length: CALLS }, () => client.call(ACTION, new Uint8Array([1]), { timeoutMs: 10_000 }));
  return Promise.all(calls.map((c) => c.then(() => ({ code: -1, retry: 'answered', message: '' }), (e: RpcError) => ({ code: e.code, retry: e.retry, message: e.message }))));
}

const goodbyeThen = (...after: Uint8Array[]) => () => new Uint8Array(Buffer.concat([golden.goodbye, ...after]));

describe("a broken server's goodbye", () => {
  it('kept (the last frame, agreed, then the end): the calls unanswered fail Closed, never ran (retry safe)', async () => {
    const got = await failures(await brokenGoodbyeServer(AGREES_GOODBYE, goodbyeThen()));
    for (const f of got) expect(f).toMatchObject({ code: ErrorCode.Closed, retry: 'safe', message: expect.stringMatching(/said goodbye and ended the connection before it read the call \(never ran\)/) });
  });

  it.each([
    ['from a server whose hello did not agree goodbyes', V1_ANSWER, goodbyeThen(), /did not agree goodbyes/],
    ['followed by an answer to a call', AGREES_GOODBYE, (seq: number) => goodbyeThen(responseFrame(0, seq, new Uint8Array([7])))(), /\(flag 0, seq \d+\) after the server's goodbye/],
    ['with a body (a goodbye has none)', AGREES_GOODBYE, () => responseFrame(GOODBYE_FLAG, 0, new Uint8Array([1, 2, 3])), /goodbye with a body of 3 bytes/],
    ['followed by bytes that are no frame', AGREES_GOODBYE, goodbyeThen(new Uint8Array(RESPONSE_HEADER_LENGTH).fill(0x11)), /bad magic 0x1111/],
  ])('%s: every call fails IO, may have run (retry idempotent), none answered', async (_, hello, last, why) => {
    const got = await failures(await brokenGoodbyeServer(hello, last));
    for (const f of got) expect(f).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent', message: expect.stringMatching(why) });
  });
});
