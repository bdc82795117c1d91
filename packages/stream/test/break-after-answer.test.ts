import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createRouter, type ServerRequest, type StreamCall } from '../src/index.js';
import { readU32, startServer, u32 } from './harness.js';

// A `break` (or a throw inside `for await`) ends the reading for good, as a one-shot source's
// iterator does after return(): also of a stream the server already answered, whose unread items
// a second loop must not find.

const cleanup = cleanups();
const ITEMS = 5;

/** A feed of ITEMS items, then as `end` says: an answer, an error, or a wait for its cancel. */
async function feed(end: 'answer' | 'fail' | 'wait') {
  const table = {
    feed: async (req: ServerRequest) => {
      for (let i = 0; i < ITEMS; i++) await req.stream!.write(u32(i));
      if (end === 'fail') throw new Error('feed failed');
      if (end === 'wait') await new Promise((aborted) => req.signal.addEventListener('abort', aborted, { once: true }));
      return u32(ITEMS);
    },
  };
  // Its own router, silent: the failing feed's line is expected.
  const s = await startServer(table, { closeWaitMs: 0, dispatch: createRouter(table, silentLogger) });
  cleanup.push(() => s.server.close());
  const client = await s.connect();
  cleanup.push(() => client.destroy());
  return client;
}

/** Reads `n` items and breaks (n of them read), or reads to the end when n is Infinity. */
async function readSome(s: StreamCall, n: number): Promise<number[]> {
  const got: number[] = [];
  for await (const item of s) {
    got.push(readU32(item.msg));
    if (got.length === n) break;
  }
  return got;
}

/** Waits until every item and the answer arrived: reading is all that is left. */
async function answered(s: StreamCall): Promise<void> {
  await s.result.catch(() => {});
  expect(s.isDone).toBe(true);
  expect(s.buffered).toBeGreaterThan(0);
}

describe('a break out of a stream the server already answered', () => {
  it('drops the unread items: a second loop reads nothing, and the result stays the answer', async () => {
    const client = await feed('answer');
    const s = client.openStream('feed');
    await answered(s);
    expect(await readSome(s, 2)).toEqual([0, 1]);
    expect(s.buffered).toBe(0);
    expect(await readSome(s, Infinity)).toEqual([]);
    expect(await s[Symbol.asyncIterator]().next()).toEqual({ value: undefined, done: true });
    expect(readU32((await s.result).msg)).toBe(ITEMS);
  });

  it('a throw inside the loop drops them too', async () => {
    const client = await feed('answer');
    const s = client.openStream('feed');
    await answered(s);
    const thrown = new Error('reader gave up');
    await expect(
      (async () => {
        for await (const item of s) if (readU32(item.msg) === 1) throw thrown;
      })(),
    ).rejects.toBe(thrown);
    expect(await readSome(s, Infinity)).toEqual([]);
    expect(readU32((await s.result).msg)).toBe(ITEMS);
  });

  it('of a stream its server failed, a second loop fails at once with that error, no item first', async () => {
    const client = await feed('fail');
    const s = client.openStream('feed');
    await answered(s);
    expect(await readSome(s, 2)).toEqual([0, 1]);
    expect(s.buffered).toBe(0);
    const again = await s[Symbol.asyncIterator]()
      .next()
      .catch((e: unknown) => e);
    expect(again).toMatchObject({ code: ErrorCode.Internal });
    expect(again).toBeInstanceOf(RpcError);
    expect(await s.result.catch((e: unknown) => e)).toBe(again);
  });

  it('of a stream still running, cancels it as before: reading and result fail Cancelled', async () => {
    const client = await feed('wait');
    const s = client.openStream('feed');
    expect(await readSome(s, 2)).toEqual([0, 1]);
    await expect(s.result).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    expect(s.buffered).toBe(0);
    await expect(readSome(s, Infinity)).rejects.toMatchObject({ code: ErrorCode.Cancelled });
  });
});
