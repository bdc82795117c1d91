import { FrameError } from '@skein/core';
import { describe, expect, it } from 'vitest';
import { MessageBatcher } from '../src/message-batcher.js';
import { readFrames } from '../src/message-reader.js';
import { Slab } from '@skein/core';
import { bodiesOf, bodyAt, frame, header, onBody, spec, text } from './helpers.js';

/** A batcher whose messages are collected, each as its chunks and as one joined buffer. */
function batcher(maxBatchBytes = 1024 * 1024, batchFrames = Infinity, slab?: Slab) {
  const messages: Uint8Array[][] = [];
  const b = new MessageBatcher(spec, (chunks) => messages.push(chunks), { maxBatchBytes, batchFrames, slab });
  const joined = (): Uint8Array[] => messages.map((m) => Buffer.concat(m));
  return { b, messages, joined };
}

describe('MessageBatcher', () => {
  it('sends the frames of one synchronous run as one message, at the end of the run', async () => {
    const { b, messages, joined } = batcher();
    for (let i = 0; i < 1000; i++) b.write(frame(`f${i}`));
    expect(messages).toHaveLength(0);
    await Promise.resolve();
    expect(messages).toHaveLength(1);
    expect(bodiesOf(joined()[0]!).map(text)).toEqual(Array.from({ length: 1000 }, (_, i) => `f${i}`));
  });

  it('sends a message as soon as it holds batchFrames whole frames, the rest at the end of the run', async () => {
    const { b, joined } = batcher(1024 * 1024, 3);
    for (let i = 0; i < 7; i++) b.write(frame(`f${i}`));
    // A frame still being written is never cut: the header alone waits for its body.
    b.write(header(2));
    expect(joined().map((m) => bodiesOf(m).map(text))).toEqual([['f0', 'f1', 'f2'], ['f3', 'f4', 'f5']]);
    b.write(new TextEncoder().encode('f7'));
    await Promise.resolve();
    expect(joined().map((m) => bodiesOf(m).map(text))).toEqual([['f0', 'f1', 'f2'], ['f3', 'f4', 'f5'], ['f6', 'f7']]);
  });

  it('copies short parts when written, so the caller may reuse them', () => {
    const { b, joined } = batcher();
    const part = frame('abc');
    b.write(part);
    part.fill(0);
    b.flush();
    expect(text(bodiesOf(joined()[0]!)[0]!)).toBe('abc');
  });

  it('sends long parts from the caller buffer, as their own chunk of the same message', () => {
    const { b, messages } = batcher();
    const big = new Uint8Array(64 * 1024).fill(7);
    b.write(frame('small'));
    b.write(header(big.length));
    b.write(big);
    b.flush();
    expect(messages).toHaveLength(1);
    expect(messages[0]!.some((c) => c.buffer === big.buffer && c.byteOffset === big.byteOffset && c.length === big.length)).toBe(true);
  });

  it('holds back a frame still being written at flush, and sends it whole later', () => {
    const { b, joined } = batcher();
    b.write(frame('done'));
    b.write(header(6));
    b.write(new TextEncoder().encode('par'));
    b.flush();
    b.write(new TextEncoder().encode('tly'));
    b.flush();
    expect(joined().map((m) => bodiesOf(m).map(text))).toEqual([['done'], ['partly']]);
  });

  it('follows a header split across parts', () => {
    const { b, joined } = batcher();
    const f = frame('split header');
    b.write(f.subarray(0, 2));
    b.write(f.subarray(2, 3));
    b.write(f.subarray(3));
    b.flush();
    expect(bodiesOf(joined()[0]!).map(text)).toEqual(['split header']);
  });

  it('cuts a long run into messages at frame boundaries, each within maxBatchBytes', () => {
    const { b, joined } = batcher(100);
    for (let i = 0; i < 10; i++) b.write(frame('x'.repeat(40)));
    b.flush();
    const messages = joined();
    expect(messages.length).toBe(5);
    for (const m of messages) expect(m.length).toBeLessThanOrEqual(100);
    expect(messages.flatMap(bodiesOf)).toHaveLength(10);
  });

  it('cuts by a cap lower than maxBatchBytes once given one (capMessages: the peer carries no larger message), and never raises it', () => {
    const { b, joined } = batcher(1000);
    b.capMessages(100);
    b.capMessages(10_000);
    for (let i = 0; i < 10; i++) b.write(frame('x'.repeat(40)));
    b.flush();
    const messages = joined();
    expect(messages.length).toBe(5);
    for (const m of messages) expect(m.length).toBeLessThanOrEqual(100);
    expect(messages.flatMap(bodiesOf)).toHaveLength(10);
  });

  it('sends a frame bigger than maxBatchBytes alone', () => {
    const { b, joined } = batcher(100);
    b.write(frame('a'));
    b.write(frame('y'.repeat(500)));
    b.write(frame('b'));
    b.flush();
    expect(joined().map((m) => bodiesOf(m).map((x) => x.length))).toEqual([[1], [500], [1]]);
  });

  it('holds no slab memory once a flush has sent everything, so an idle connection costs none', async () => {
    const { b, messages } = batcher();
    for (let i = 0; i < 100; i++) b.write(frame(`f${i}`));
    expect(b.heldBytes).toBeGreaterThan(0);
    await Promise.resolve();
    expect(messages).toHaveLength(1);
    expect(b.queuedBytes).toBe(0);
    expect(b.heldBytes).toBe(0);
    b.write(frame('again'));
    b.flush();
    expect(b.heldBytes).toBe(0);
  });

  it('keeps filling the same slab block turn after turn instead of allocating one per flush', async () => {
    const { b, messages } = batcher(1024 * 1024, Infinity, new Slab(64 * 1024));
    for (let turn = 0; turn < 10; turn++) {
      b.write(frame(`turn ${turn}`));
      await Promise.resolve();
    }
    expect(messages).toHaveLength(10);
    expect(new Set(messages.map((m) => m[0]!.buffer)).size).toBe(1);
  });

  it('never writes over bytes handed out when connections share a slab', () => {
    // A small block, so the two batchers interleave in it and move on to fresh blocks often.
    const slab = new Slab(8 * 1024);
    const a = batcher(1024 * 1024, Infinity, slab);
    const z = batcher(1024 * 1024, Infinity, slab);
    for (let i = 0; i < 2000; i++) {
      a.b.write(frame(`a${i}`));
      z.b.write(frame(`z${i}`.repeat(1 + (i % 7))));
      if (i % 3 === 0) a.b.flush();
      if (i % 5 === 0) z.b.flush();
    }
    a.b.flush();
    z.b.flush();
    // Read only now: every message handed out earlier must still hold what was written.
    expect(a.joined().flatMap(bodiesOf).map(text)).toEqual(Array.from({ length: 2000 }, (_, i) => `a${i}`));
    expect(z.joined().flatMap(bodiesOf).map(text)).toEqual(Array.from({ length: 2000 }, (_, i) => `z${i}`.repeat(1 + (i % 7))));
  });

  it('throws when a written header is one the FrameSpec rejects', () => {
    const { b } = batcher();
    expect(() => b.write(header(0xffff_fff0))).toThrow(FrameError);
  });
});

describe('readFrames', () => {
  it('hands out places in the message itself', () => {
    const message = Buffer.concat([frame('one'), frame('two')]);
    const seen: [Uint8Array, number, number][] = [];
    expect(readFrames(message, 0, spec, (bytes, start, end) => (seen.push([bytes, start, end]), true))).toBe(message.length);
    expect(seen.map(([b, s, e]) => text(bodyAt(b, s, e)))).toEqual(['one', 'two']);
    expect(seen.map(([b, s, e]) => [b === message, s, e])).toEqual([[true, 0, 7], [true, 7, 14]]);
  });

  it('stops where the sink says, and resumes from the offset it returned', () => {
    const message = Buffer.concat([frame('one'), frame('two')]);
    const seen: string[] = [];
    const at = readFrames(message, 0, spec, onBody((body) => (seen.push(text(body)), false)));
    readFrames(message, at, spec, onBody((body) => (seen.push(text(body)), true)));
    expect(seen).toEqual(['one', 'two']);
  });

  it('rejects a message that ends mid-frame, after delivering the whole frames before it', () => {
    const message = Buffer.concat([frame('ok'), header(10), Buffer.from('abc')]);
    const seen: string[] = [];
    expect(() => readFrames(message, 0, spec, onBody((body) => (seen.push(text(body)), true)))).toThrow(/mid-frame/);
    expect(seen).toEqual(['ok']);
  });

  it('rejects a message that ends inside a header', () => {
    expect(() => readFrames(new Uint8Array(2), 0, spec, () => true)).toThrow(FrameError);
  });
});
