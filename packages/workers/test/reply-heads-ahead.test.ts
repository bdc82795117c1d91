import { cleanups } from '@skein/test-utils';
import type { ClientStream, Metadata } from '@skein/stream';
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import type { RepliesMessage } from '../src/messages.js';
import { ReplyPacker, unpackReplies } from '../src/reply-batch.js';
import { serve, startPool } from './harness.js';

// The reply metadata a handler in a worker sets on a call with a deadline goes to the server's
// thread ahead of its answer (reply-heads-ahead.ts), at the end of the event-loop turn it was
// set in: not in a batch of its own when the handler answers within that turn, and not again
// with an answer that follows unchanged. And a batch holding heads sent ahead that cannot leave
// whole fails no call for them, and loses none of them.

const MODULE = new URL('./fixtures/reply-batches.mjs', import.meta.url);
const utf8 = new TextEncoder();
const text = new TextDecoder();
const CALLS = 10;

const cleanup = cleanups();

/** A 1-worker pool of MODULE, served, its connection's first batches out of the way. */
async function counting(): Promise<ClientStream> {
  const p = await startPool({ module: MODULE, workers: 1 });
  cleanup.push(() => p.destroy());
  const s = await serve(p);
  cleanup.push(() => s.close());
  await s.stream.ping();
  await counts(s.stream);
  return s.stream;
}

/** The batches of answers the worker posted since the last ask, and the reply heads in them. */
async function counts(stream: ClientStream): Promise<{ batches: number; heads: number }> {
  return JSON.parse(text.decode((await stream.call('counts')).msg));
}

/** CALLS calls of `action`, one after the other, each setting `i`; what their clients were told. */
async function oneByOne(stream: ClientStream, action: string, timeoutMs: number | undefined) {
  const heard: Metadata[][] = [];
  for (let i = 0; i < CALLS; i++) {
    const told: Metadata[] = [];
    const r = await stream.call(action, utf8.encode(JSON.stringify({ i: String(i) })), { timeoutMs, onReplyMetadata: (md) => told.push({ ...md }) });
    expect(text.decode(r.msg)).toBe('done');
    heard.push(told);
  }
  return { heard, ...(await counts(stream)) };
}

const each = Array.from({ length: CALLS }, (_, i) => [{ i: String(i) }]);

describe('WorkerPool: reply heads sent ahead of their answers (calls with a deadline)', () => {
  it('an async handler that answers in the turn it set its entries in sends one batch per call, its head once, with its answer, as a synchronous one does', async () => {
    const stream = await counting();
    for (const action of ['sync', 'async']) {
      expect({ action, ...(await oneByOne(stream, action, 60_000)) }).toEqual({ action, heard: each, batches: CALLS, heads: CALLS });
    }
  });

  it('a head that went ahead (the handler answers a turn later) is not sent again with the answer; without a deadline none goes ahead', async () => {
    const stream = await counting();
    expect(await oneByOne(stream, 'nextTurn', 60_000)).toEqual({ heard: each, batches: 2 * CALLS, heads: CALLS });
    expect(await oneByOne(stream, 'nextTurn', undefined)).toEqual({ heard: each, batches: CALLS, heads: CALLS });
  });
});

/** A reply head of one entry (docs/protocol.md, "Reply metadata": no deadline, then key u8 length, value u16 length). */
const head = (key: string, value: string): Uint8Array => Uint8Array.of(0xff, 0xff, 0xff, 0xff, key.length, ...utf8.encode(key), value.length, 0, ...utf8.encode(value));
/** An error detail that cannot be cloned (it holds a function), as a handler may give one. */
const uncloneable = { toString: () => 'not a string', hint() {} } as unknown as string;

/** `fill`'s batch sent through a real port: the heads the other end reads, by call id, and the calls given up as unsent. */
function sentThroughPort(fill: (packer: ReplyPacker) => void) {
  const { port1, port2 } = new MessageChannel();
  const packer = new ReplyPacker();
  fill(packer);
  const unsent: number[] = [];
  packer.send(
    (m: RepliesMessage) => port1.postMessage(m, [m.buf]),
    (id) => unsent.push(id),
  );
  const heads: [number, string][] = [];
  const answers: number[] = [];
  const sink = {
    ok: (id: number) => answers.push(id),
    error: (id: number) => answers.push(id),
    custom: (id: number) => answers.push(id),
    failed: (id: number) => answers.push(id),
    head: (id: number, h: Uint8Array) => heads.push([id, Buffer.from(h).toString('hex')]),
  };
  for (let got = receiveMessageOnPort(port2); got !== undefined; got = receiveMessageOnPort(port2)) unpackReplies(got.message as RepliesMessage, sink);
  port1.close();
  return { heads, answers, unsent };
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('ReplyPacker: a batch holding heads sent ahead that cannot leave whole', () => {
  const a = head('session', 's-a');
  const b = head('session', 's-b');

  it("each head sent ahead still reaches the pool, beside another call's answer that cannot be cloned, before or after it; that call alone is unsent", () => {
    // A head ahead after another call's answer (sendApart's last entry), and before it: two
    // entries, not one answer with its own head.
    expect(sentThroughPort((p) => (p.error(2, 7, uncloneable), p.head(1, a)))).toEqual({ heads: [[1, hex(a)]], answers: [], unsent: [2] });
    expect(sentThroughPort((p) => (p.head(1, a), p.error(2, 7, uncloneable)))).toEqual({ heads: [[1, hex(a)]], answers: [], unsent: [2] });
    // A head sent ahead before another call's answer, which does not take it down with it.
    expect(sentThroughPort((p) => (p.head(1, a), p.error(2, 7, uncloneable), p.ok(3, Uint8Array.of(1), new Uint8Array(0))))).toEqual({ heads: [[1, hex(a)]], answers: [3], unsent: [2] });
    // A call's own head still goes with its answer, and is lost with it.
    expect(sentThroughPort((p) => (p.head(2, b), p.error(2, 7, uncloneable), p.head(1, a)))).toEqual({ heads: [[1, hex(a)]], answers: [], unsent: [2] });
    expect(sentThroughPort((p) => (p.head(1, a), p.head(3, b), p.ok(3, Uint8Array.of(1), new Uint8Array(0)), p.error(2, 7, uncloneable)))).toEqual({ heads: [[1, hex(a)], [3, hex(b)]], answers: [3], unsent: [2] });
  });

  it('heads alone that fail to post fail no call, however many', () => {
    for (const n of [1, 2, 3]) {
      const packer = new ReplyPacker();
      for (let id = 1; id <= n; id++) packer.head(id, a);
      const unsent: number[] = [];
      let posts = 0;
      packer.send(
        () => {
          posts++;
          throw new Error('the port is gone');
        },
        (id) => unsent.push(id),
      );
      expect({ n, unsent, posts }).toEqual({ n, unsent: [], posts: 1 });
    }
  });
});
