import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { RpcServer } from '@skein/stream';
import { cleanups, connectRazorClient, deferred, portOf, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createServiceDispatch, implement, method, service, type CallContext } from '../src/index.js';
import { transport } from './harness.js';

// A razor v1 client sends no hello, so no call head: its calls carry no deadline (that is the
// protocol). The server's own bound, `handlerTimeoutMs`, still holds them.

const Svc = service('Svc', { hold: method<null, number>() });
const cleanup = cleanups();

describe("a razor v1 client's call (no deadline on the wire)", () => {
  it("has no deadline on the server, yet handlerTimeoutMs answers it rpc_timeout and aborts the handler's signal with Timeout", async () => {
    const seen = deferred<{ deadline: number | undefined; reason: Promise<unknown> }>();
    const server = new RpcServer({
      closeWaitMs: 0,
      logger: silentLogger,
      dispatch: createServiceDispatch({
        codec: msgpackCodec,
        logger: silentLogger,
        handlerTimeoutMs: 50,
        services: [
          implement(Svc, {
            hold: (_: null, ctx: CallContext) => {
              const reason = new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(ctx.signal.reason)));
              seen.resolve({ deadline: ctx.deadline, reason });
              return new Promise<number>(() => {}); // ignores its signal: the answer must not wait for it
            },
          }),
        ],
      }),
    });
    cleanup.push(() => server.close());
    const razor = await connectRazorClient(`127.0.0.1:${portOf(await server.listen(transport, '127.0.0.1:0'))}`);
    cleanup.push(() => razor.destroy());
    const reply = razor.call('Svc.hold', msgpackCodec.encode(null));
    const handler = await within(seen.promise, 5000, 'the handler to start');
    expect(handler.deadline).toBeUndefined();
    expect(((await within(handler.reason, 5000, "the handler's signal")) as RpcError).code).toBe(ErrorCode.Timeout);
    const answer = await within(reply, 5000, 'the answer');
    expect(answer.flag).toBe(2);
    expect(answer.body.toString()).toMatch(/^rpc_timeout/);
    // Answered in the only flags a v1 client knows.
    expect(razor.flags.every((f) => f <= 2)).toBe(true);
  });
});
