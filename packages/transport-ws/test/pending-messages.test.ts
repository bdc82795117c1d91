import { FrameError } from '@skein/core';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { wsTransport } from '../src/index.js';
import { filledMessage, header, rawClient, rawWsPeer, startServer, until, wsFrameHeader } from './helpers.js';

const cleanup = cleanups();

const MiB = 1024 * 1024;
/** One message: a test frame filling it, under maxWsMessageBytes (4 MiB). */
const MESSAGE = 4 * MiB - 16;
const message = (): Uint8Array => filledMessage(MESSAGE);

/**
 * Many peers that each send most of a large message and never finish it (or finish it as slowly
 * as they like: the read timeout ends only a stalled one) must not make the server hold more
 * than its listener's budget, as TCP's maxPendingFrameBytes bounds its partly received frames:
 * each WebSocket connection held up to maxWsMessageBytes, however many there were.
 */
describe('ws server: messages still arriving, over many connections', () => {
  it('hold at most maxPendingMessageBytes: the connection that would go over is dropped alone; what completes gives its share back', async () => {
    const s = await startServer(wsTransport({ maxWsMessageBytes: 4 * MiB, maxPendingMessageBytes: 8 * MiB }), { echo: true });
    cleanup.push(() => s.listener.close());
    const peers = await Promise.all([0, 1, 2].map(() => rawWsPeer(s.port)));
    for (const p of peers) cleanup.push(() => p.destroy());
    await until(() => s.accepted.length === 3, 'three connections');
    // 3 MiB each of a 4 MiB message: 9 MiB together, over the budget by one of them.
    const first = message();
    for (const p of peers) {
      p.write(wsFrameHeader(2, true, MESSAGE, true));
      p.write(first.subarray(0, 3 * MiB));
    }
    await until(() => s.accepted.filter((r) => r.isClosed).length === 1, 'one connection dropped');
    const dropped = s.accepted.find((r) => r.isClosed)!;
    const err = await dropped.closed.promise;
    expect(err).toBeInstanceOf(FrameError);
    expect(err!.message).toMatch(/over the maxPendingMessageBytes budget of 8388608/);

    // The others finish their messages, read whole: their shares go back.
    const kept = s.accepted.filter((r) => r !== dropped);
    const connOf = (p: (typeof peers)[number]) => s.accepted.find((r) => r.conn.remote.endsWith(`:${p.socket.localPort}`));
    for (const p of peers.filter((p) => connOf(p) !== dropped)) p.write(first.subarray(3 * MiB));
    await until(() => kept.every((r) => r.bodies.length === 1), 'the two messages finished');
    expect(kept.every((r) => !r.isClosed)).toBe(true);
    // With every share back, a whole message of the largest size fits again.
    const later = await rawWsPeer(s.port);
    cleanup.push(() => later.destroy());
    later.write(wsFrameHeader(2, true, MESSAGE, true));
    later.write(first);
    await until(() => s.accepted.length === 4 && s.accepted[3]!.bodies.length === 1, 'a later message read whole');
    expect(s.accepted[3]!.isClosed).toBe(false);
    // An honest client on the same listener was never in question.
    const honest = await rawClient(s.url());
    cleanup.push(() => honest.ws.terminate());
    honest.ws.send(new Uint8Array([...header(2), 7, 8]));
    await until(() => honest.messages.length === 1, 'the echo');
  });

  it('are charged what arrived, never what their headers claim', async () => {
    const s = await startServer(wsTransport({ maxWsMessageBytes: 4 * MiB, maxPendingMessageBytes: 8 * MiB }));
    cleanup.push(() => s.listener.close());
    const peers = await Promise.all([0, 1, 2].map(() => rawWsPeer(s.port)));
    for (const p of peers) cleanup.push(() => p.destroy());
    await until(() => s.accepted.length === 3, 'three connections');
    // 12 MiB claimed, 3 KiB sent: nobody is over the budget.
    const whole = message();
    for (const p of peers) p.write(new Uint8Array([...wsFrameHeader(2, true, MESSAGE, true), ...whole.subarray(0, 1024)]));
    // Each finished in turn (4 MiB held at most at once): all three read whole, none dropped.
    for (const p of peers) {
      p.write(whole.subarray(1024));
      await until(() => s.accepted.filter((r) => r.bodies.length === 1).length === peers.indexOf(p) + 1 || s.accepted.some((r) => r.isClosed), 'the message finished');
    }
    expect(s.accepted.map((r) => [r.bodies.length, r.isClosed])).toEqual([[1, false], [1, false], [1, false]]);
  });

  it('is at least maxWsMessageBytes', () => {
    expect(() => wsTransport({ maxWsMessageBytes: 4 * MiB, maxPendingMessageBytes: 4 * MiB - 1 })).toThrow(/maxPendingMessageBytes must be at least maxWsMessageBytes \(4194304\)/);
    expect(() => wsTransport({ maxPendingMessageBytes: Infinity })).not.toThrow();
  });
});
