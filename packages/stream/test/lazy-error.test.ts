import { EMPTY_BYTES, ErrorCode, type RpcError } from '@skein/core';
import { deferred, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { RequestStream } from '../src/index.js';
import { readU32, startServer, u32 } from './harness.js';
import { CreditGate } from '../src/internals/credit-gate.js';
import { Inbox } from '../src/internals/inbox.js';
import { lazyError } from '../src/internals/lazy-error.js';

/** A factory that counts the errors it made. */
function counted(message: string) {
  const made = { count: 0 };
  const make = () => {
    made.count++;
    return new Error(message);
  };
  return { made, make };
}

describe('errors made when first needed', () => {
  it('lazyError makes its error once, at the first call', () => {
    const { made, make } = counted('gone');
    const err = lazyError(make);
    expect(made.count).toBe(0);
    const first = err();
    expect(err()).toBe(first);
    expect(made.count).toBe(1);
  });

  it("a CreditGate failed by a factory makes no error until a write needs it, then fails every write with that one", async () => {
    const { made, make } = counted('answered');
    const gate = new CreditGate(10);
    gate.fail(make);
    expect(gate.failed).toBe(true);
    expect(made.count).toBe(0);
    const a = await gate.wait()!.catch((e: unknown) => e);
    const b = await gate.wait()!.catch((e: unknown) => e);
    expect((a as Error).message).toBe('answered');
    expect(b).toBe(a);
    expect(made.count).toBe(1);
    // A later failure does not replace the first.
    gate.fail(new Error('later'));
    expect(await gate.wait()!.catch((e: unknown) => e)).toBe(a);
  });

  it('a write waiting for credit when the gate fails gets the error at once', async () => {
    const { made, make } = counted('answered');
    const gate = new CreditGate(0);
    const waiting = gate.wait()!.catch((e: unknown) => e);
    gate.fail(make);
    expect(made.count).toBe(1);
    expect(((await waiting) as Error).message).toBe('answered');
  });

  it('an Inbox failed by a factory reads its buffered items, then that error, made once', async () => {
    const { made, make } = counted('no more');
    const inbox = new Inbox(() => 1, 1024, () => {});
    inbox.push({ msg: new Uint8Array([1]), blob: new Uint8Array(0) });
    inbox.fail(make);
    expect(made.count).toBe(0);
    expect((await inbox.next()).value?.msg).toEqual(new Uint8Array([1]));
    const a = await inbox.next().catch((e: unknown) => e);
    const b = await inbox.next().catch((e: unknown) => e);
    expect((a as Error).message).toBe('no more');
    expect(b).toBe(a);
    expect(made.count).toBe(1);
  });

  it('a reader waiting when the Inbox fails is told the error', async () => {
    const { make } = counted('no more');
    const inbox = new Inbox(() => 1, 1024, () => {});
    const reading = inbox.next().catch((e: unknown) => e);
    inbox.fail(make);
    expect(((await reading) as Error).message).toBe('no more');
  });
});

const cleanup = cleanups();

describe('a stream used after its answer fails as it did when its error was made at the answer', () => {
  it("the client's write after the server answered: Closed, never retry (it may have run)", async () => {
    const s = await startServer({ feed: () => u32(7) }, { closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const client = await s.connect();
    cleanup.push(() => client.destroy());
    await client.ping();
    const stream = client.openStream('feed', EMPTY_BYTES);
    expect(readU32((await stream.result).msg)).toBe(7);
    const first = (await stream.write(u32(1)).catch((e: unknown) => e)) as RpcError;
    expect(first).toMatchObject({ code: ErrorCode.Closed, retry: 'never', message: 'the server answered the stream' });
    expect(await stream.write(u32(2)).catch((e: unknown) => e)).toBe(first);
  });

  it("the handler's write and read after its answer: Closed, naming the call", async () => {
    const kept = deferred<RequestStream>();
    const s = await startServer({ feed: (req) => (kept.resolve(req.stream!), u32(1)) }, { closeWaitMs: 0 });
    cleanup.push(() => s.server.close());
    const client = await s.connect();
    cleanup.push(() => client.destroy());
    await client.ping();
    const stream = client.openStream('feed', EMPTY_BYTES);
    await stream.result;
    const rs = await kept.promise;
    const write = await rs.write(u32(2)).catch((e: unknown) => e);
    const read = await rs[Symbol.asyncIterator]().next().catch((e: unknown) => e);
    expect(write).toMatchObject({ code: ErrorCode.Closed, message: 'feed: the call was answered' });
    expect(read).toBe(write);
  });
});
