import { deferred, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, StreamCall, type ActionHandler } from '../src/index.js';
import type { StreamWire } from '../src/client/stream-call.js';
import { ITEM_OVERHEAD } from '../src/wire/extension-frames.js';
import { localServer } from './pool-harness.js';
import { transport } from './harness.js';

// What a pooled stream keeps to write again should its server refuse it unrun (the replay
// itself, through real drains, is in pool-transparent-retry and pool-stream-moves): at most the
// window, dropped once the server speaks.

const cleanup = cleanups();

/** The server's receive window per stream (its default), and the client pool's (its default too). */
const WINDOW = 1024 * 1024;
const ITEM = 64 * 1024;
const COST = ITEM + ITEM_OVERHEAD;

/** True when `p` has not settled after the pending I/O and timers of a turn ran. */
async function pending(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((r) => setImmediate(r));
  return !settled;
}

describe('a pooled stream keeps what it writes until the server speaks', () => {
  it('no more than the window: a write past it waits for credit, and the credit drops what was kept', async () => {
    const reading = deferred<void>();
    // Reads nothing (so grants nothing) until told: its client writes only on the hello's window.
    const collect: ActionHandler = async (req) => {
      await reading.promise;
      let n = 0;
      for await (const _ of req.stream!) n++;
      return new TextEncoder().encode(String(n));
    };
    const s0 = await localServer({ collect });
    cleanup.push(() => s0.server.close());
    const pool = new ConnPool({ transport, address: s0.address });
    cleanup.push(() => pool.destroy());
    const s = pool.openStream('collect');
    await s.write(new Uint8Array(ITEM)); // waits for the connection and the open
    let written = 1;
    let blocked: Promise<void> | undefined;
    while (blocked === undefined && written < 100) {
      const w = s.write(new Uint8Array(ITEM));
      if (await pending(w)) blocked = w;
      else written++;
    }
    // Credit for 1 MiB: 16 items of 64 KiB and their headers (the last overdraws it), then the 17th waits.
    expect(written).toBe(Math.ceil(WINDOW / COST));
    expect(s.keptBytes).toBe(written * COST);
    expect(s.keptBytes).toBeLessThan(WINDOW + COST);
    expect(await pending(blocked!)).toBe(true);
    reading.resolve();
    await blocked; // credit came: the handler runs, and no other server may have the items now
    expect(s.heard).toBe(true);
    expect(s.keptBytes).toBe(0);
    s.end();
    expect(new TextDecoder().decode((await s.result).msg)).toBe(String(written + 1));
  });

  // Each way a stream can end while it keeps items (its server silent: a handler that never reads) leaves nothing kept.
  for (const how of ['cancel', 'signal', 'timeout', 'pool destroy'] as const) {
    it(`drops what it kept when it ends by ${how}`, async () => {
      const never = deferred<void>();
      cleanup.push(() => never.resolve());
      const s0 = await localServer({ silent: () => never.promise.then(() => new Uint8Array(0)) });
      cleanup.push(() => s0.server.close());
      const pool = new ConnPool({ transport, address: s0.address });
      cleanup.push(() => pool.destroy());
      const ac = new AbortController();
      const s = pool.openStream('silent', undefined, { signal: ac.signal, timeoutMs: how === 'timeout' ? 300 : undefined });
      for (let i = 0; i < 3; i++) await s.write(new Uint8Array(100));
      expect(s.keptBytes).toBe(3 * (100 + ITEM_OVERHEAD));
      if (how === 'cancel') s.cancel();
      else if (how === 'signal') ac.abort();
      else if (how === 'pool destroy') pool.destroy();
      await s.result.catch(() => {});
      expect(s.isDone).toBe(true);
      expect(s.keptBytes).toBe(0);
    });
  }

  it('copies parts under 1 KiB (the writer may reuse them at once) and keeps larger ones by reference', () => {
    const wire = recordingWire();
    const s = new StreamCall(wire, WINDOW, undefined);
    s.keepWrites();
    s.opened(1, WINDOW);
    const small = new Uint8Array([1, 2, 3]);
    const large = new Uint8Array(2048).fill(7);
    void s.write(small, large);
    small.fill(9); // reused once its write resolved, as FrameConn.write allows for a small part
    s.unopened();
    s.opened(2, WINDOW);
    const again = wire.sent.filter((x) => x.seq === 2);
    expect(again.map((x) => [...x.msg])).toEqual([[1, 2, 3]]);
    expect(again[0]!.blob).toBe(large);
    s.cancel();
  });

  it('writes again parts of every size as they were, however they share the copies', () => {
    const wire = recordingWire();
    const s = new StreamCall(wire, WINDOW, undefined);
    s.keepWrites();
    s.opened(1, WINDOW);
    const sizes = [3, 60, 5, 0, 70, 64, 1, 1023, 1024, 2, 63];
    const parts = sizes.map((n, i) => new Uint8Array(n).fill(i + 1));
    for (let i = 0; i < parts.length; i += 2) void s.write(parts[i], parts[i + 1]);
    for (const p of parts) p.fill(0); // the small ones reused
    s.unopened();
    s.opened(2, WINDOW);
    const again = wire.sent.filter((x) => x.seq === 2).flatMap((x) => [x.msg, x.blob]);
    const expected = sizes.map((n, i) => (n >= 1024 ? parts[i]! : new Uint8Array(n).fill(i + 1)));
    expect(again.slice(0, sizes.length).map((p) => [...p])).toEqual(expected.map((p) => [...p]));
    s.cancel();
  });
});

describe('the kept items written again where the stream opens next', () => {
  it('go first and in order, within the new window; the rest at its credit, then the waiting write, then the end', async () => {
    const wire = recordingWire();
    const s = new StreamCall(wire, WINDOW, undefined);
    s.keepWrites();
    s.opened(1, 1000);
    const item = (n: number): Uint8Array => new Uint8Array(100 - ITEM_OVERHEAD).fill(n); // costs 100
    for (let n = 1; n <= 5; n++) await s.write(item(n));
    s.end();
    s.unopened(); // refused unrun
    // Not the caller's: a stream ended may still be written again, its end after its items.
    s.opened(2, 250);
    // 250 of credit: items 1, 2, 3 (the third overdraws it); 4 and 5 wait for the server's credit, and so does the end.
    expect(firstBytes(wire, 2)).toEqual([1, 2, 3]);
    expect(wire.ends).toEqual([1]);
    s.granted(60); // -50 + 60: item 4
    expect(firstBytes(wire, 2)).toEqual([1, 2, 3, 4]);
    s.granted(1000);
    expect(firstBytes(wire, 2)).toEqual([1, 2, 3, 4, 5]);
    expect(wire.ends).toEqual([1, 2]);
    // The server spoke (its credit): nothing is kept past the replay.
    expect(s.keptBytes).toBe(0);
    s.cancel();
  });

  it('refused again half way through writing them again: the next attempt writes them all, once each, in order, then the waiting write', async () => {
    const wire = recordingWire();
    const s = new StreamCall(wire, WINDOW, undefined);
    s.keepWrites();
    s.opened(1, 500);
    const item = (n: number): Uint8Array => new Uint8Array(100 - ITEM_OVERHEAD).fill(n);
    for (let n = 1; n <= 5; n++) await s.write(item(n));
    const sixth = s.write(item(6)); // no credit left: waits
    s.unopened();
    s.opened(2, 200); // items 1, 2; the rest wait for credit that never comes
    expect(firstBytes(wire, 2)).toEqual([1, 2]);
    s.unopened(); // the second server refuses it too, unrun
    s.opened(3, 1000);
    await sixth;
    expect(firstBytes(wire, 3)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(s.keptBytes).toBe(600);
    s.granted(100); // the third server speaks: nothing kept from here on
    expect(s.keptBytes).toBe(0);
    s.cancel();
  });

  it('ended half way through writing them again, then refused: the end follows all of them on the next attempt, once', async () => {
    const wire = recordingWire();
    const s = new StreamCall(wire, WINDOW, undefined);
    s.keepWrites();
    s.opened(1, 1000);
    const item = (n: number): Uint8Array => new Uint8Array(100 - ITEM_OVERHEAD).fill(n);
    for (let n = 1; n <= 5; n++) await s.write(item(n));
    s.unopened();
    s.opened(2, 200);
    s.end(); // during the replay: held until its items went
    expect(wire.ends).toEqual([]);
    s.unopened();
    s.opened(3, 1000);
    expect(firstBytes(wire, 3)).toEqual([1, 2, 3, 4, 5]);
    expect(wire.ends).toEqual([3]);
    await expect(s.write(item(6))).rejects.toMatchObject({ retry: 'never' });
    s.cancel();
  });

  it('a write waiting while they go again is sent after them', async () => {
    const wire = recordingWire();
    const s = new StreamCall(wire, WINDOW, undefined);
    s.keepWrites();
    s.opened(1, 150);
    const item = (n: number): Uint8Array => new Uint8Array(100 - ITEM_OVERHEAD).fill(n);
    await s.write(item(1));
    await s.write(item(2)); // overdraws: the next write waits
    const third = s.write(item(3));
    s.unopened();
    s.opened(2, 100); // item 1 only, then credit 0
    await Promise.resolve();
    expect(firstBytes(wire, 2)).toEqual([1]);
    s.granted(100); // item 2; its credit spent, the waiting write still waits
    await Promise.resolve();
    expect(firstBytes(wire, 2)).toEqual([1, 2]);
    s.granted(100);
    await third;
    expect(firstBytes(wire, 2)).toEqual([1, 2, 3]);
    s.cancel();
  });
});

interface Sent {
  seq: number;
  msg: Uint8Array;
  blob: Uint8Array;
}

/** A StreamWire that records what goes out, in place of a connection (the StreamCall is real). */
function recordingWire(): StreamWire & { sent: Sent[]; ends: number[] } {
  const sent: Sent[] = [];
  const ends: number[] = [];
  return {
    sent,
    ends,
    maxMessage: 1 << 20,
    maxBlob: 1 << 20,
    // Copied as a connection's write would copy small parts: the views it gets are the replay's.
    data: (seq, msg, blob) => void sent.push({ seq, msg: msg.slice(), blob: blob.length >= 1024 ? blob : blob.slice() }),
    end: (seq) => void ends.push(seq),
    credit() {},
    cancel() {},
    congested: () => undefined,
    observerDropped() {},
  };
}

/** The first byte of each item sent on `seq`: which item it was. */
const firstBytes = (wire: { sent: Sent[] }, seq: number): number[] => wire.sent.filter((x) => x.seq === seq).map((x) => x.msg[0]!);
