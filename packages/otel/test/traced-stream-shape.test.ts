import { SpanKind } from '@opentelemetry/api';
import { clientStream, createClient, implement, serverStream, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode } from '@skein/core';
import { cleanups, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { tracedCaller } from '../src/index.js';
import { telemetry } from './otel-harness.js';
import { startTraced, stopTraced } from './traced-server.js';

/*
 * A stub's stream open says the kind it was made for in its metadata (`skein-stream`), for the
 * api's dispatch to refuse a kind other than its method's (helper 275). Both wrappers hand
 * metadata on: tracedCaller adds its `traceparent` beside the entry, and tracedDispatch gives
 * the dispatch behind it the request's metadata with the server span's context in place of the
 * client's, the entry kept. So the check holds behind them as without them.
 */

const cleanup = cleanups();

const Served = service('Feed', { count: serverStream<{ to: number }, number>() });
/** The same method as a client of another version sees it: a client stream, which opens with nothing. */
const Skewed = service('Feed', { count: clientStream<number, number>() });

async function setup() {
  const t = telemetry();
  const seen: (string | undefined)[][] = [];
  const s = await startTraced(
    [
      implement(Served, {
        async *count({ to }, ctx) {
          seen.push([ctx.metadata['skein-stream'], ctx.metadata.traceparent === undefined ? undefined : 'traceparent']);
          for (let i = 1; i <= to; i++) yield i;
        },
      }),
    ],
    t.otel,
  );
  cleanup.push(() => stopTraced(s));
  return { t, seen, caller: tracedCaller(s.peer, t.otel) };
}

describe('the kind a stream was opened as, behind tracedCaller and tracedDispatch', () => {
  it('a client stream on a server stream is refused unrun, and the span says so', async () => {
    const { t, seen, caller } = await setup();
    const skewed = createClient(Skewed, caller, { codec: msgpackCodec });
    // Before, the handler ran with `undefined` for its argument, and failed Internal.
    await expect(within(skewed.count([1, 2]), 10_000, 'the refusal')).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: "Feed.count: a server stream on the server, opened as a client stream: do the client's and the server's definitions of it differ?",
    });
    expect(seen).toEqual([]);
    await expect.poll(() => t.spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER && s.name === 'Feed/count').length).toBe(1);
  });

  it("a stream of the server's kind is served, its handler seeing the entry beside the trace context", async () => {
    const { seen, caller } = await setup();
    const served = createClient(Served, caller, { codec: msgpackCodec });
    const got: number[] = [];
    for await (const v of await served.count({ to: 3 })) got.push(v);
    expect(got).toEqual([1, 2, 3]);
    expect(seen).toEqual([['server', 'traceparent']]);
  });
});
