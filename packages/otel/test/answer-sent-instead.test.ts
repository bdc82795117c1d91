import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createClient, createServiceDispatch, implement, method, service } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { EMPTY_BYTES, ErrorCode, formatAddress, RemoteError, silentLogger, type Address } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { ClientStream, createRouter, RpcServer, type Dispatch } from '@skein/stream';
import { tcpTransport } from '@skein/transport-tcp';
import { afterEach, describe, expect, it } from 'vitest';
import { tracedDispatch } from '../src/index.js';
import { histogram, sum, telemetry } from './otel-harness.js';

// An answer the wire cannot carry to the client is never sent as given: a reply over the
// client's receive limits (its hello tells them) goes out as FrameTooLarge, and so does a custom
// error too large for them; a custom error number that is not a u32 goes out as Internal. The
// server's span and metrics must record what the client got, not what the handler gave.

const transport = tcpTransport(nodeRuntime);
const { spans, otel, collect } = telemetry();

/** The client takes at most this in a reply's message and in its blob. */
const LIMIT = 1024;

const Files = service('Files', { read: method<number, Uint8Array>() });
const files = implement(Files, { read: (n) => new Uint8Array(n) });

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  spans.reset();
});

/** A traced server of `dispatch`, and a real client over loopback that takes replies of LIMIT bytes at most. */
async function connect(dispatch: Dispatch): Promise<ClientStream> {
  const server = new RpcServer({ dispatch: tracedDispatch(dispatch, otel) });
  const address = formatAddress((await server.listen(transport, '127.0.0.1:0')) as Address);
  const stream = await ClientStream.connect({ transport, address, limits: { maxMessage: LIMIT, maxBlob: LIMIT } });
  closers.push(async () => {
    stream.destroy();
    await server.close();
  });
  return stream;
}

const serverSpans = (): ReadableSpan[] => spans.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER);

describe('a reply over the client limits', () => {
  it('is recorded as the FrameTooLarge the client got, on the span and in the metrics', async () => {
    const client = createClient(Files, await connect(createServiceDispatch({ codec: msgpackCodec, services: [files] })), { codec: msgpackCodec });
    const method = { 'rpc.method': 'read' };
    const before = await collect();
    // The same method under the limit: recorded as the success it is.
    expect((await client.read(16)).length).toBe(16);
    await expect(client.read(4 * LIMIT)).rejects.toMatchObject({ code: ErrorCode.FrameTooLarge });

    const [fits, tooLarge] = serverSpans();
    expect(fits!.status.code).toBe(SpanStatusCode.UNSET);
    expect(fits!.attributes['error.type']).toBeUndefined();
    expect(tooLarge!.attributes).toMatchObject({ 'error.type': 'FrameTooLarge', 'rpc.skein.error_code': ErrorCode.FrameTooLarge });
    expect(tooLarge!.status).toMatchObject({ code: SpanStatusCode.ERROR, message: expect.stringMatching(/^Files\.read: reply of \d+ bytes not sent; the call failed with FrameTooLarge$/) });
    const after = await collect();
    expect(sum(after, 'skein.rpc.server.errors', { ...method, 'error.type': 'FrameTooLarge' }) - sum(before, 'skein.rpc.server.errors', { ...method, 'error.type': 'FrameTooLarge' })).toBe(1);
    // Only the reply that went out is sized: the refused one sent nothing of its own.
    const sent = histogram(after, 'rpc.server.response.size', method).sum - histogram(before, 'rpc.server.response.size', method).sum;
    expect(sent).toBe(msgpackCodec.encode(new Uint8Array(16)).length);
  });

  it('is recorded the same from any dispatch: a blob over the limit answered by a plain router', async () => {
    const stream = await connect(createRouter({ 'Files.blob': () => ({ msg: EMPTY_BYTES, blob: new Uint8Array(2 * LIMIT) }) }));
    await expect(stream.call('Files.blob')).rejects.toMatchObject({ code: ErrorCode.FrameTooLarge });
    const [span] = serverSpans();
    expect(span!.attributes).toMatchObject({ 'error.type': 'FrameTooLarge', 'rpc.skein.error_code': ErrorCode.FrameTooLarge });
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
  });
});

describe('a custom error the wire cannot carry', () => {
  it('is recorded as the built-in error the client got: FrameTooLarge over its limits, Internal for a number not a u32', async () => {
    const stream = await connect(
      createRouter({
        'Files.big': () => {
          throw new RemoteError(new Uint8Array(2 * LIMIT));
        },
        'Files.negative': () => {
          throw new RemoteError(-1);
        },
      }),
    );
    await expect(stream.call('Files.big')).rejects.toMatchObject({ code: ErrorCode.FrameTooLarge });
    await expect(stream.call('Files.negative')).rejects.toMatchObject({ code: ErrorCode.Internal });
    const [big, negative] = serverSpans();
    expect(big!.attributes).toMatchObject({ 'error.type': 'FrameTooLarge', 'rpc.skein.error_code': ErrorCode.FrameTooLarge });
    expect(big!.status).toMatchObject({ code: SpanStatusCode.ERROR, message: "Files.big: custom error not sent; the call failed with FrameTooLarge" });
    expect(negative!.attributes).toMatchObject({ 'error.type': 'Internal', 'rpc.skein.error_code': ErrorCode.Internal });
    expect(negative!.status.code).toBe(SpanStatusCode.ERROR);
  });
});

describe('an error code that is none', () => {
  it('is recorded as the Internal the client got, and the wrapper does not throw', async () => {
    const threw: unknown[] = [];
    const stream = await connect(
      createRouter({
        // 2^32 + 105 would read as InvalidArgument were it wrapped into a u32; it is refused instead.
        'Files.wrapped': (req) => {
          try {
            req.fail((2 ** 32 + 105) as ErrorCode);
          } catch (err) {
            threw.push(err);
          }
        },
      }, { logger: silentLogger }),
    );
    await expect(stream.call('Files.wrapped')).rejects.toMatchObject({ code: ErrorCode.Internal });
    expect(threw).toEqual([]);
    const [span] = serverSpans();
    expect(span!.attributes).toMatchObject({ 'error.type': 'Internal', 'rpc.skein.error_code': ErrorCode.Internal });
    expect(span!.status).toMatchObject({ code: SpanStatusCode.ERROR, message: 'Files.wrapped: error 4294967401 not sent; the call failed with Internal' });
  });
});
