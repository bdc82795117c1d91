// A server stream: the handler is an async generator; the client reads it with for await.
import { createClient, createServiceDispatch, implement, serverStream, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import type { ClientStream } from '@skein/stream';

export const Ticker = service('Ticker', {
  count: serverStream<{ to: number }, number>(),
});

export const ticker = implement(Ticker, {
  async *count({ to }, ctx) {
    // ctx.signal fires when the client breaks out of its loop (or its timeoutMs passes);
    // ctx.draining when the server begins to close: the stream ends normally, every item read.
    for (let i = 1; i <= to && !ctx.signal.aborted && !ctx.draining.aborted; i++) yield i;
  },
});

export const tickerDispatch = createServiceDispatch({ codec: msgpackCodec, services: [ticker] });

export async function firstTicks(stream: ClientStream, wanted: number): Promise<number[]> {
  const client = createClient(Ticker, stream, { codec: msgpackCodec });
  const seen: number[] = [];
  for await (const n of await client.count({ to: 1_000_000 }, { timeoutMs: 5000 })) {
    seen.push(n);
    if (seen.length === wanted) break; // cancels the handler on the server
  }
  return seen;
}
