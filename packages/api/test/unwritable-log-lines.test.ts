import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, consoleLogger, type RpcError } from '@skein/core';
import { within } from '@skein/test-utils';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient, implement, method, service, type Filter } from '../src/index.js';
import { serve } from './harness.js';

// A failed call is logged on its way to its answer. A value the logger cannot write (the
// default console logger's JSON of a circular object: `throw err.response`, a record with a
// parent link) must not stop that answer: the call would hang, and the throw would reject a
// promise nobody handles, which ends a Node process.

const Svc = service('Svc', { run: method<number, number>() });

/** What a handler or filter may throw: a plain object that points at itself. */
function circular(): Record<string, unknown> {
  const o: Record<string, unknown> = { code: 'E_UPSTREAM' };
  o.self = o;
  return o;
}

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
  vi.restoreAllMocks();
});

async function start(run: (n: number) => number | Promise<number>, filters: Filter[] = []) {
  // The console logger is the server's default: its lines go to stderr, kept quiet here.
  vi.spyOn(console, 'error').mockImplementation(() => {});
  const h = await serve({ codec: msgpackCodec, logger: consoleLogger('warn'), filters, services: [implement(Svc, { run })] });
  cleanup.push(() => h.close());
  return h;
}

describe('a line the logger cannot write', () => {
  it("never stops the answer to a handler that rejected with it: Internal, as for any undeclared error", async () => {
    const h = await start(async () => {
      throw circular();
    });
    const err = await within(createClient(Svc, h.stream, { codec: msgpackCodec }).run(1).catch((e: RpcError) => e), 5000, 'the call');
    expect(err).toMatchObject({ code: ErrorCode.Internal });
    // Still logged, without the fields it could not write.
    expect(vi.mocked(console.error).mock.calls.some(([line]) => String(line).includes('handler threw an undeclared error'))).toBe(true);
  });

  it("never stops the answer when a server filter's after throws it", async () => {
    const h = await start((n) => n, [{ after: () => { throw circular(); } }]);
    expect(await within(createClient(Svc, h.stream, { codec: msgpackCodec }).run(7), 5000, 'the call')).toBe(7);
  });

  it("never stops a client call whose filter's after throws it", async () => {
    const h = await start((n) => n);
    const svc = createClient(Svc, h.stream, { codec: msgpackCodec, logger: consoleLogger('warn'), filters: [{ after: () => { throw circular(); } }] });
    expect(await within(svc.run(3), 5000, 'the call')).toBe(3);
  });
});
