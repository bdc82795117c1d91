import { msgpackCodec } from '@skein/codec-msgpack';
import type { CallOptions, Notify, StreamCall, StreamCaller } from '@skein/stream';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, implement, serverStream, service } from '../src/index.js';
import { serve } from './harness.js';

// A `break` out of a typed stream ends its reading for good, as the stream layer's does
// (packages/stream/test/break-after-answer.test.ts): also once the server answered, with items
// still unread, which a second loop over the same values must not find.

const cleanup = cleanups();

const Feed = service('Feed', { count: serverStream<{ to: number }, number>() });

/** A carrier that opens its streams on `inner` and keeps them, so the test can wait for their answer. */
function keeping(inner: StreamCaller): StreamCaller & { opened: StreamCall[] } {
  const opened: StreamCall[] = [];
  return {
    opened,
    send: (action: string | number, msg: Uint8Array, opts: CallOptions, notify: Notify) => inner.send(action, msg, opts, notify),
    openStream(action, msg, opts) {
      const s = inner.openStream(action, msg, opts);
      opened.push(s);
      return s;
    },
  };
}

describe('a break out of a typed stream its server already answered', () => {
  it('drops the unread values: a second loop over the same values reads nothing', async () => {
    const handlers = implement(Feed, {
      async *count({ to }) {
        for (let i = 0; i < to; i++) yield i;
      },
    });
    const s = await serve({ codec: msgpackCodec, services: [handlers] });
    cleanup.push(() => s.close());
    const carrier = keeping(s.stream);
    const client = createClient(Feed, carrier, { codec: msgpackCodec });
    const values = await client.count({ to: 5 });
    // Every item and the answer arrived: only reading is left.
    await carrier.opened[0]!.result;
    const first: number[] = [];
    for await (const v of values) if (first.push(v) === 2) break;
    expect(first).toEqual([0, 1]);
    const again: number[] = [];
    for await (const v of values) again.push(v);
    expect(again).toEqual([]);
  });
});
