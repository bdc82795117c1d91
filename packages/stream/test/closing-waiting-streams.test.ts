import { silentLogger } from '@skein/core';
import { cleanups, muteServer, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, StreamCall } from '../src/index.js';
import { transport } from './harness.js';

/*
 * Streams opened on a connection whose hello is not answered yet wait for the answer. A closing
 * connection asks, on every stream that leaves, whether any is still open or waiting: that
 * question must not look through the waiting ones (a look each time made n streams cancelled in
 * one turn cost n² — 32 000 of them 2.8 s of one turn). Counted here by what the look reads of
 * each stream (`isDone`), not timed: what a cancel costs must not grow with the streams left.
 */

const cleanup = cleanups();
const N = 400;

describe("a closing connection whose streams wait for the hello's answer", () => {
  it("asks nothing of the other waiting streams as each one leaves, and ends once they all have", async () => {
    const mute = await muteServer();
    const client = await ClientStream.connect({ transport, address: mute.address, logger: silentLogger, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const streams = Array.from({ length: N }, () => client.openStream('never'));
    for (const s of streams) s.result.catch(() => {});
    expect(client.openStreams).toBe(N);
    const closed = client.close();

    const isDone = Object.getOwnPropertyDescriptor(StreamCall.prototype, 'isDone')!;
    let reads = 0;
    Object.defineProperty(StreamCall.prototype, 'isDone', { configurable: true, get() { reads++; return isDone.get!.call(this); } });
    try {
      for (const s of streams) s.cancel();
    } finally {
      Object.defineProperty(StreamCall.prototype, 'isDone', isDone);
    }
    // A look through those still waiting on each leave read ~N²/2 (80 000 here); none is needed.
    expect(reads).toBeLessThanOrEqual(N);
    expect(client.openStreams).toBe(0);
    // With none left, the close goes on without the hello's answer.
    await within(closed, 10_000, 'the close');
  });
});
