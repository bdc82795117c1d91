import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { cleanups, portOf } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, RpcServer, createRouter } from '../src/index.js';
import { transport } from './harness.js';

// An RpcError whose message was set to something that is no string after it was made: its
// words cannot be written, and were read only once the call was claimed for the answer, which
// then never went (the client waited out its timeout). It travels as its code alone. The
// timeout only bounds an unanswered call: the code decides.

const cleanup = cleanups();

const wordless = (code: ErrorCode, retry?: 'idempotent') =>
  Object.assign(new RpcError(code, 'x', retry === undefined ? {} : { retry }), { message: Symbol('words') });

async function serve(exposeInternalErrors: boolean): Promise<ClientStream> {
  const router = createRouter(
    {
      1: () => { throw wordless(ErrorCode.InvalidArgument); },
      2: async () => { throw wordless(ErrorCode.PermissionDenied); },
      3: async () => { throw wordless(ErrorCode.Closed); },
    },
    { logger: silentLogger, exposeInternalErrors },
  );
  const server = new RpcServer({ dispatch: router, logger: silentLogger });
  const a = await server.listen(transport, '127.0.0.1:0');
  cleanup.push(() => server.close());
  const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}` });
  cleanup.push(() => stream.destroy());
  return stream;
}

const outcome = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: RpcError) => ({ code: e.codeName, retry: e.retry }),
  );

describe("createRouter: a handler's RpcError whose message is no string", () => {
  it.each([false, true])('is answered with its code (exposeInternalErrors: %s)', async (expose) => {
    const stream = await serve(expose);
    const bound = { timeoutMs: 10_000 };
    expect([await outcome(stream.call(1, undefined, bound)), await outcome(stream.call(2, undefined, bound)), await outcome(stream.call(3, undefined, bound))]).toEqual([
      { code: 'InvalidArgument', retry: 'never' },
      { code: 'PermissionDenied', retry: 'never' },
      // A refusal code from a handler still says it may have run.
      { code: 'Closed', retry: 'idempotent' },
    ]);
  });
});
