import { waitFor, within, cleanups } from '@skein/test-utils';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { ClientStream, createRouter } from '../src/index.js';
import { HelloRole, encodeHello, receiveLimitsEntry } from '../src/wire/hello.js';
import { ACTION_STRING_BIT, REQUEST_HEADER_LENGTH, readRequestHeader } from '../src/wire/protocol.js';
import { REVERSE_ANSWER_ACTION, REVERSE_CALL_FLAG, reverseAnswerEntry } from '../src/wire/reverse-calls.js';
import { requestFrames as requests, responseFrame, transport } from './harness.js';

const cleanup = cleanups();

const MiB = 1024 * 1024;
const utf8 = new TextEncoder();

/** A reverse call of `action` with an empty msg, as a server sends it (wire/reverse-calls.ts). */
function reverseCall(seq: number, action: string): Uint8Array {
  const name = utf8.encode(action);
  const msg = new Uint8Array(4 + name.length);
  new DataView(msg.buffer).setUint32(0, (ACTION_STRING_BIT | name.length) >>> 0, true);
  msg.set(name, 4);
  return responseFrame(REVERSE_CALL_FLAG, seq, msg);
}

/**
 * A raw server that answers the hello agreeing calls both ways, then never reads: what the
 * client writes backs up in its own memory.
 */
async function deafServer(): Promise<{ address: string; socket: Promise<net.Socket>; received: () => Buffer }> {
  const chunks: Buffer[] = [];
  let resolveSocket!: (s: net.Socket) => void;
  const socket = new Promise<net.Socket>((r) => (resolveSocket = r));
  const server = net.createServer((s) => {
    s.on('error', () => {});
    let helloDone = false;
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      if (helloDone) return;
      const all = Buffer.concat(chunks);
      if (all.length < REQUEST_HEADER_LENGTH) return;
      const h = readRequestHeader(all.subarray(0, REQUEST_HEADER_LENGTH));
      if (all.length < REQUEST_HEADER_LENGTH + h.msgLength) return;
      helloDone = true;
      const answer = encodeHello(HelloRole.Answer, [receiveLimitsEntry(16 * MiB, 64 * MiB), reverseAnswerEntry(16 * MiB, 64 * MiB)]);
      s.write(responseFrame(0, 0, answer));
      // Deaf from now on: the client's answers stay in its send buffer.
      s.pause();
      resolveSocket(s);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise<void>((r) => server.close(() => r())));
  const { port } = server.address() as net.AddressInfo;
  return { address: `127.0.0.1:${port}`, socket, received: () => Buffer.concat(chunks) };
}

/** Reverse calls at close: a deaf server sends WINDOW calls of 4 MiB answers; some run and fill the send buffer, the rest are held. */
const WINDOW = 8;
async function heldAtClose(keepaliveTimeoutMs: number) {
  const srv = await deafServer();
  let ran = 0;
  const peer = await ClientStream.connect({
    transport,
    address: srv.address,
    keepaliveMs: 0,
    keepaliveTimeoutMs,
    serveWindow: WINDOW,
    // 4 MiB answers: more than the kernel's socket buffers take, whatever their tuning.
    serve: createRouter({ big: () => (ran++, new Uint8Array(4 * MiB)) }),
  });
  cleanup.push(() => peer.destroy());
  const marker = peer.call('mark');
  const s = await srv.socket;
  cleanup.push(() => s.destroy());
  for (let i = 1; i <= WINDOW; i++) s.write(reverseCall(i, 'big'));
  s.write(responseFrame(0, 1, new Uint8Array(0)));
  await marker;
  // Some ran and filled the send buffer; the rest are held for a drain that never comes.
  const ranBeforeClose = ran;
  expect(ranBeforeClose).toBeLessThan(WINDOW);
  return { peer, s, srv, ran: () => ran, ranBeforeClose };
}

describe('a client serving calls back, to a server that does not read', () => {
  it('runs reverse calls only as its send buffer drains: the window bounds what it holds, and every call is answered', async () => {
    const N = 400;
    const REPLY = 128 * 1024;
    const srv = await deafServer();
    let ran = 0;
    const peer = await ClientStream.connect({
      transport,
      address: srv.address,
      keepaliveMs: 0,
      serveWindow: WINDOW,
      // Each reverse call of ~40 bytes makes 128 KiB of answer: N of them would be 50 MiB held.
      serve: createRouter({ big: () => (ran++, new Uint8Array(REPLY)) }),
    });
    cleanup.push(() => peer.destroy());
    // The client's own call, seq 1: its answer, sent after the reverse calls, says when the client has read them all.
    const marker = peer.call('mark');
    const s = await srv.socket;
    cleanup.push(() => s.destroy());
    for (let i = 1; i <= N; i++) s.write(reverseCall(i, 'big'));
    s.write(responseFrame(0, 1, new Uint8Array(0)));
    await marker;
    // Every reverse call was read; those that came once the send buffer was full did not run
    // (their answers would only pile up behind the ones the server does not read).
    const ranWhileDeaf = ran;
    expect(ranWhileDeaf).toBeGreaterThan(0);
    expect(ranWhileDeaf).toBeLessThan(N);
    // The server reads again: each call gets exactly one answer. Those held in the window for a
    // drain run then; those past the window were refused Overloaded, bare (never ran: the server
    // may send them again), which a server that keeps to the window never sees.
    s.resume();
    const answers = await waitFor(() => {
      const got = requests(srv.received()).filter((r) => r.action === REVERSE_ANSWER_ACTION);
      return got.length >= N ? got : undefined;
    });
    expect(answers.map((a) => a.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    const refused = answers.filter((a) => a.flag === 2);
    expect(refused.length).toBe(N - ran);
    for (const r of refused) expect(r.msg.subarray(1).toString()).toBe('rpc_overloaded');
    expect(answers.filter((a) => a.flag === 0).length).toBe(ran);
  });

  it('refuses the calls it holds when it closes (Closed, never ran), so close() ends against a server that never reads again', async () => {
    const { peer, ran, ranBeforeClose } = await heldAtClose(200);
    // A held call has not run: the closing stream refuses it as one arriving now, and ends its
    // side; the server never closing its own, the stream drops it keepaliveTimeoutMs later.
    await within(peer.close(), 5_000, 'close() with reverse calls held');
    expect(ran()).toBe(ranBeforeClose);
  });

  it('answers each call it held at close exactly once, Closed and bare: the server may send it elsewhere', async () => {
    const { peer, s, srv, ran, ranBeforeClose } = await heldAtClose(60_000);
    const closing = peer.close();
    // The server reads again: what the client wrote arrives, and no held call runs now.
    s.resume();
    const answers = await waitFor(() => {
      const got = requests(srv.received()).filter((r) => r.action === REVERSE_ANSWER_ACTION);
      // Written after the answers of those that ran, a refusal comes last: all is in once it is whole.
      const last = got.at(-1);
      return got.length >= WINDOW && last!.msg.subarray(1).toString() === 'rpc_closed' ? got : undefined;
    });
    expect(ran()).toBe(ranBeforeClose);
    expect(answers.map((a) => a.seq).sort((a, b) => a - b)).toEqual(Array.from({ length: WINDOW }, (_, i) => i + 1));
    const refused = answers.filter((a) => a.flag === 2);
    expect(refused).toHaveLength(WINDOW - ranBeforeClose);
    for (const r of refused) expect(r.msg.subarray(1).toString()).toBe('rpc_closed');
    s.destroy();
    await within(closing, 5_000, 'close() once the server is gone');
  });
});
