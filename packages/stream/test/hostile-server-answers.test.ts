import { cleanups, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ErrorCode, RpcError } from '@skein/core';
import { ClientStream, createRouter } from '../src/index.js';
import { HelloRole, encodeHello, receiveLimitsEntry } from '../src/wire/hello.js';
import { RESPONSE_HEADER_LENGTH, writeResponseHeader, type ResponseFlag } from '../src/wire/protocol.js';
import { REVERSE_CALL_FLAG, reverseAnswerEntry } from '../src/wire/reverse-calls.js';
import { golden } from './golden.js';
import { writeCountingTransport, deafServer, transport } from './harness.js';

const cleanup = cleanups();
const MiB = 1024 * 1024;

describe('a hostile server that floods the client with frames it must answer, and never reads', () => {
  it('server pings: the client holds no pong past its send buffer (the server keeps one ping out; any frame it reads answers it)', async () => {
    const srv = await deafServer(cleanup);
    const counting = writeCountingTransport();
    const client = await ClientStream.connect({ transport: counting.transport, address: srv.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    // Seq 1: its answer, written after the pings, says when the client has read them all.
    const marker = client.call('mark');
    const s = await srv.socket;
    cleanup.push(() => s.destroy());
    // 1 Mi pings, 20 MiB: a pong each would be 32 MiB to a server that reads none of it.
    const PINGS = 1024 * 1024;
    const batch = Buffer.concat(Array.from({ length: 4096 }, () => golden.serverPing));
    for (let i = 0; i < PINGS / 4096; i++) s.write(batch);
    s.write(golden.okReply);
    await marker;
    // What it held is bounded by its send buffer's high-water mark and a batch, not by what the server sent.
    expect(counting.maxHeld()).toBeLessThan(2 * MiB);
    expect(client.state).toBe('open');
  });

  it('reverse calls past the window: refused while the server reads, and past 1 MiB of refusals it leaves unread its connection closes (IO), never holding one per call', async () => {
    const answer = responseFrame(0, 0, encodeHello(HelloRole.Answer, [receiveLimitsEntry(16 * MiB, 64 * MiB), reverseAnswerEntry(16 * MiB, 64 * MiB)]));
    const srv = await deafServer(cleanup, answer);
    const counting = writeCountingTransport();
    let ran = 0;
    const client = await ClientStream.connect({
      transport: counting.transport,
      address: srv.address,
      keepaliveMs: 0,
      serveWindow: 8,
      // Its handler never answers: the window stays full, and every later call is refused.
      serve: createRouter({ 1: () => (ran++, new Promise<never>(() => {})) }),
    });
    cleanup.push(() => client.destroy());
    const marker = client.call('mark');
    const s = await srv.socket;
    cleanup.push(() => s.destroy());
    // 1 Mi reverse calls of 24 bytes: refused, each would be 47 bytes held, 47 MiB in all.
    const CALLS = 1024 * 1024;
    const BATCH = 4096;
    for (let i = 0; i < CALLS / BATCH; i++) s.write(Buffer.concat(Array.from({ length: BATCH }, (_, j) => reverseCall(1 + i * BATCH + j))));
    s.write(golden.okReply);
    const err = await marker.then(() => undefined, (e: unknown) => e);
    expect(ran).toBe(8);
    expect(counting.maxHeld()).toBeLessThan(4 * MiB);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(ErrorCode.IO);
    expect((err as RpcError).message).toMatch(/reverse calls refused unrun/);
  });
});

describe('a hostile server that answers a stream with a flag no answer has', () => {
  it('a server ping under the stream\'s seq: the connection closes as for a call, and the stream fails with IO naming the flag', async () => {
    const srv = await deafServer(cleanup);
    const client = await ClientStream.connect({ transport, address: srv.address, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const s = await srv.socket;
    cleanup.push(() => s.destroy());
    // The hello answered (streams agreed) before the stream opens, so it goes on the wire at once, seq 1.
    await waitFor(() => client.hello.dialect === 'agreed', { what: 'the hello answered' });
    const stream = client.openStream('feed');
    const ping = Buffer.from(golden.serverPing);
    ping.writeUInt32LE(stream.seq, 8);
    s.write(ping);
    const err = await stream.result.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(ErrorCode.IO);
    expect((err as RpcError).message).toMatch(/has flag 25/);
    expect(client.state).toBe('closed');
  });
});

/** A whole response frame with an empty blob. */
function responseFrame(flag: number, seq: number, msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(RESPONSE_HEADER_LENGTH + msg.length);
  writeResponseHeader(out, flag as ResponseFlag, msg.length, seq, 0);
  out.set(msg, RESPONSE_HEADER_LENGTH);
  return out;
}

/** A reverse call of numeric action 1, empty msg and blob (wire/reverse-calls.ts): 24 bytes. */
function reverseCall(seq: number): Uint8Array {
  const msg = new Uint8Array(4);
  msg[0] = 1;
  return responseFrame(REVERSE_CALL_FLAG, seq, msg);
}
