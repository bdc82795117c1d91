import { SpanKind, type Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { formatAddress, type Address } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, RpcServer, createRouter } from '@skein/stream';
import { waitFor } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tracedCaller, tracedDispatch } from '../src/index.js';
import { histogram, telemetry } from './otel-harness.js';

const transport = tcpTransport(nodeRuntime);
const { spans, otel, collect } = telemetry();

const WINDOW = 4096;
const ITEMS = 2000;
/** 4 bytes each, every third with a 2-byte blob, every fifth a blob alone. */
const msgOf = (i: number) => (i % 5 === 4 ? new Uint8Array(0) : new Uint8Array(new Uint32Array([i]).buffer));
const blobOf = (i: number) => (i % 3 === 0 || i % 5 === 4 ? new Uint8Array([i & 0xff, 0xbb]) : new Uint8Array(0));
const totalBytes = (n: number) => Array.from({ length: n }, (_, i) => msgOf(i).length + blobOf(i).length).reduce((a, b) => a + b, 0);

let server: RpcServer;
let client: ClientStream;
beforeAll(async () => {
  const dispatch = createRouter({
    down: async (req) => {
      for (let i = 0; i < ITEMS; i++) await req.stream!.write(msgOf(i), blobOf(i));
      req.reply(new Uint8Array([1]));
    },
    up: async (req) => {
      let n = 0;
      for await (const _ of req.stream!) n++;
      req.reply(new Uint8Array([n & 0xff]));
    },
  });
  server = new RpcServer({ dispatch: tracedDispatch(dispatch, { ...otel, messageEvents: 0 }), closeWaitMs: 0 });
  const address = formatAddress((await server.listen(transport, '127.0.0.1:0')) as Address);
  client = await ClientStream.connect({ transport, address, keepaliveMs: 0, streamWindowBytes: WINDOW });
});
afterAll(async () => {
  client.destroy();
  await server.close();
});

const finished = (kind: SpanKind): ReadableSpan[] => spans.getFinishedSpans().filter((s) => s.kind === kind);
const items = (s: ReadableSpan): Attributes => ({ sent: s.attributes['rpc.skein.stream.items_sent'], received: s.attributes['rpc.skein.stream.items_received'] });

/**
 * Traced streams count their items through the stream's own observer (`observe`), whatever way
 * the stream keeps them: small ones the client had not read yet (packed), blobs, items without
 * a msg, up to the end; each sized by its msg and blob in the metrics.
 */
describe('traced stream items', () => {
  it('counts and sizes packed items with blobs both ways, to the end of each side', async () => {
    const traced = tracedCaller(client, { ...otel, messageEvents: 0 });
    const before = await collect();
    // Server to client: unread until the window filled, so that the items wait packed.
    const down = traced.openStream('down');
    // Told by the stream itself: none of its methods replaced.
    expect(Object.hasOwn(down, 'received') || Object.hasOwn(down, 'write')).toBe(false);
    await waitFor(() => down.buffered > WINDOW - 32 || undefined, { what: 'the window filled' });
    let read = 0;
    for await (const _ of down) read++;
    expect(read).toBe(ITEMS);
    // Client to server, then the client's end.
    const up = traced.openStream('up');
    for (let i = 0; i < 300; i++) await up.write(msgOf(i), blobOf(i));
    up.end();
    expect((await up.result).msg[0]).toBe(300 & 0xff);
    await waitFor(() => (finished(SpanKind.SERVER).length === 2 && finished(SpanKind.CLIENT).length === 2) || undefined, { what: 'four spans' });
    const byName = (kind: SpanKind, action: string) => finished(kind).find((s) => s.name.endsWith(action))!;
    expect(items(byName(SpanKind.CLIENT, 'down'))).toEqual({ sent: 0, received: ITEMS });
    expect(items(byName(SpanKind.SERVER, 'down'))).toEqual({ sent: ITEMS, received: 0 });
    expect(items(byName(SpanKind.CLIENT, 'up'))).toEqual({ sent: 300, received: 0 });
    expect(items(byName(SpanKind.SERVER, 'up'))).toEqual({ sent: 0, received: 300 });
    const after = await collect();
    const delta = (name: string) => {
      const [a, b] = [histogram(after, name, {}), histogram(before, name, {})];
      return { count: a.count - b.count, sum: a.sum - b.sum };
    };
    for (const side of ['client', 'server']) {
      // Every item sized by its msg and blob, plus each stream's opening request (empty) and answer (one byte).
      expect(delta(`rpc.${side}.response.size`), side).toEqual({ count: ITEMS + 2, sum: totalBytes(ITEMS) + 2 });
      expect(delta(`rpc.${side}.request.size`), side).toEqual({ count: 300 + 2, sum: totalBytes(300) });
    }
  }, 30_000);
});
