import { cborCodec } from '@skein/codec-cbor';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RemoteError, RpcError, codeErrors } from '@skein/core';
import { deferred, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import * as v from 'valibot';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { createClient, createServiceDispatch, implement, method, service, type CallContext } from '../src/index.js';
import { memoryLogger, serve } from './harness.js';

class DivideByZero extends Error {}
class NotFound extends Error {
  constructor(readonly key = '') {
    super(`not found: ${key}`);
  }
}
const notFoundCodec = {
  is: (e: unknown): e is NotFound => e instanceof NotFound,
  encode: (e: NotFound) => new TextEncoder().encode(`rpc_${e.key}`), // starts with rpc_ on purpose
  decode: (p: number | Uint8Array) => new NotFound(typeof p === 'number' ? '' : new TextDecoder().decode(p).slice(4)),
};

const Calculator = service('Calculator', {
  add: method<{ a: number; b: number }, number>(),
  div: method<{ a: number; b: number }, number>().throws(codeErrors({ 1: DivideByZero })),
  echo: method<Uint8Array, Uint8Array>(),
  nothing: method<void, void>(),
  lookup: method<string, string>().throws(notFoundCodec),
  boom: method<void, void>(),
  hang: method<void, void>(),
  who: method<void, { peer: string; conn: number; transport: string }>(),
});

const calculator = implement(Calculator, {
  add: ({ a, b }) => a + b,
  div: ({ a, b }) => {
    if (b === 0) throw new DivideByZero();
    return a / b;
  },
  echo: async (bytes) => bytes,
  nothing: () => undefined,
  lookup: (key) => {
    throw new NotFound(key);
  },
  boom: () => {
    throw new Error('database password is hunter2');
  },
  hang: (_arg, ctx) => new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve())),
  who: (_arg, ctx: CallContext) => ({ peer: ctx.peer, conn: ctx.connectionId, transport: ctx.transport }),
});

const cleanup = cleanups();

async function setup(codec = msgpackCodec, extra: Partial<Parameters<typeof serve>[0]> = {}) {
  const logger = memoryLogger();
  const s = await serve({ codec, services: [calculator], logger, ...extra });
  cleanup.push(() => s.close());
  return { ...s, logger, calc: createClient(Calculator, s.stream, { codec }) };
}

describe.each([msgpackCodec, cborCodec])('typed calls over $name', (codec) => {
  it('calls methods and gets typed results', async () => {
    const { calc } = await setup(codec);
    expect(await calc.add({ a: 1, b: 2 })).toBe(3);
    expect(await calc.div({ a: 10, b: 4 })).toBe(2.5);
    expect(await calc.echo(new Uint8Array([1, 2, 3]))).toEqual(new Uint8Array([1, 2, 3]));
    expect(await calc.nothing()).toBeUndefined();
  });

  it('throws the declared custom error as an instance of its class', async () => {
    const { calc } = await setup(codec);
    const err = await calc.div({ a: 1, b: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(DivideByZero);
    const r = await calc.div.result({ a: 1, b: 0 });
    expect(r.ok).toBe(false);
    expect(!r.ok && r.error).toBeInstanceOf(DivideByZero);
  });

  it('keeps a custom string error that starts with rpc_ apart from built-in errors', async () => {
    const { calc } = await setup(codec);
    const err = await calc.lookup('timeout').catch((e) => e);
    expect(err).toBeInstanceOf(NotFound);
    expect(err.key).toBe('timeout');
  });
});

describe('server-side errors', () => {
  it('answers an unknown service with Service and an unknown method with Method', async () => {
    const { stream } = await setup();
    await expect(stream.call('Nope.add')).rejects.toMatchObject({ code: ErrorCode.Service });
    await expect(stream.call('Calculator.mul')).rejects.toMatchObject({ code: ErrorCode.Method });
    await expect(stream.call('Calculator')).rejects.toMatchObject({ code: ErrorCode.Service });
    await expect(stream.call(42)).rejects.toMatchObject({ code: ErrorCode.Method });
  });

  it('answers an undecodable argument with Decode', async () => {
    const { stream } = await setup();
    await expect(stream.call('Calculator.add', new Uint8Array([0xc1]))).rejects.toMatchObject({ code: ErrorCode.Decode });
  });

  it('turns an undeclared handler error into Internal, logs it, and does not leak its message', async () => {
    const { calc, logger } = await setup();
    const err = await calc.boom().catch((e) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(ErrorCode.Internal);
    expect(err.message).not.toMatch(/hunter2/);
    const line = logger.lines.find((l) => l.level === 'error');
    expect(line?.obj.action).toBe('Calculator.boom');
    expect(String((line?.obj.err as Error).message)).toMatch(/hunter2/);
  });

  it('sends the message of an undeclared error when exposeInternalErrors is set', async () => {
    const { calc } = await setup(msgpackCodec, { exposeInternalErrors: true });
    await expect(calc.boom()).rejects.toMatchObject({ code: ErrorCode.Internal, message: /Calculator.boom: database password/ });
  });

  it('passes the connection to handlers', async () => {
    const { calc, stream } = await setup();
    const who = await calc.who();
    expect(who.transport).toBe('tcp');
    expect(who.conn).toBeGreaterThan(0);
    expect(who.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(stream.remote).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('aborts ctx.signal when the connection closes', async () => {
    const aborted = deferred<unknown>();
    const Svc = service('S', { wait: method<void, void>() });
    const s = await serve({
      codec: msgpackCodec,
      services: [
        implement(Svc, {
          wait: (_a, ctx) =>
            new Promise<void>((resolve) =>
              ctx.signal.addEventListener('abort', () => {
                aborted.resolve(ctx.signal.reason);
                resolve();
              }),
            ),
        }),
      ],
    });
    cleanup.push(() => s.close());
    const c = createClient(Svc, s.stream, { codec: msgpackCodec });
    const pending = c.wait().catch((e) => e);
    await waitFor(() => s.server.connections === 1);
    await new Promise((r) => setTimeout(r, 20));
    s.stream.destroy();
    expect(await within(aborted.promise, 5000)).toMatchObject({ code: ErrorCode.IO });
    expect((await pending).code).toBe(ErrorCode.IO);
  });

  it('answers Timeout and aborts ctx.signal when a handler passes handlerTimeoutMs', async () => {
    const { calc } = await setup(msgpackCodec, { handlerTimeoutMs: 100 });
    await expect(within(calc.hang(), 5000)).rejects.toMatchObject({ code: ErrorCode.Timeout });
  });
});

describe('handler timeout sweep', () => {
  it('runs one unref\'d sweep timer through calls made one at a time, not one per call', async () => {
    // handlerTimeoutMs under 1 s: the sweep ticks at it (a value no other timer uses). Near 1 s, as
    // a loaded machine may leave more than a shorter period between two calls, and the sweep, idle
    // at a tick, stops (the next call starts another: right, but not what this counts).
    const SWEEP_MS = 937;
    const setIntervalSpy = vi.spyOn(globalThis, 'setInterval');
    const clearIntervalSpy = vi.spyOn(globalThis, 'clearInterval');
    cleanup.push(() => (setIntervalSpy.mockRestore(), clearIntervalSpy.mockRestore()));
    const { calc } = await setup(msgpackCodec, { handlerTimeoutMs: SWEEP_MS });
    for (let i = 0; i < 20; i++) expect(await calc.add({ a: i, b: 1 })).toBe(i + 1);
    const sweeps = setIntervalSpy.mock.calls.flatMap((call, i) => (call[1] === SWEEP_MS ? [setIntervalSpy.mock.results[i]!.value] : []));
    expect(sweeps).toHaveLength(1);
    expect((sweeps[0] as { hasRef(): boolean }).hasRef()).toBe(false);
    // No call runs: the sweep's next tick stops it.
    await waitFor(() => clearIntervalSpy.mock.calls.some(([id]) => id === sweeps[0]), { what: 'the idle sweep to stop', timeoutMs: 5000 });
    await expect(within(calc.hang(), 5000)).rejects.toMatchObject({ code: ErrorCode.Timeout });
  });
});

describe('an error codec whose is() throws', () => {
  // An `is` that reads a field of what was thrown, and a handler that throws null.
  class Nope extends Error {}
  const fragile = {
    is: (e: unknown): e is Nope => (e as { code: unknown }).code === 'NOPE',
    encode: () => 1,
    decode: () => new Nope(),
  };
  const Fragile = service('Fragile', { sync: method<void, void>().throws(fragile), async: method<void, void>().throws(fragile) });
  const impl = implement(Fragile, {
    sync: () => {
      throw null;
    },
    async: () => Promise.reject(null),
  });

  it('answers Internal, for a handler that throws as for one that rejects, and logs the codec', async () => {
    const logger = memoryLogger();
    const s = await serve({ codec: msgpackCodec, services: [impl], logger });
    cleanup.push(() => s.close());
    const fragileClient = createClient(Fragile, s.stream, { codec: msgpackCodec });
    for (const call of [fragileClient.sync, fragileClient.async]) {
      await expect(within(call(), 5000, 'the answer')).rejects.toMatchObject({ code: ErrorCode.Internal });
    }
    const errors = logger.lines.filter((l) => l.level === 'error').map((l) => l.msg);
    expect(errors).toEqual([
      "Fragile.sync: the method's error codec threw in is()",
      'Fragile.sync: handler threw an undeclared error',
      "Fragile.async: the method's error codec threw in is()",
      'Fragile.async: handler threw an undeclared error',
    ]);
  });
});

describe('configuration mistakes', () => {
  it('throw InvalidArgument, as everywhere else: a missing handler, a service registered twice', () => {
    const Small = service('Small', { a: method<void, void>(), b: method<void, void>() });
    expect(() => implement(Small, { a: () => undefined } as never)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/no handler for b/) }),
    );
    const impl = implement(Small, { a: () => undefined, b: () => undefined });
    expect(() => createServiceDispatch({ codec: msgpackCodec, services: [impl, impl] })).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidArgument, message: 'service Small registered twice' }),
    );
  });

  it('throw InvalidArgument for a handlerTimeoutMs that is negative (every call would time out at once), NaN or infinite', () => {
    for (const bad of [-1, Number.NaN, Infinity]) {
      expect(() => createServiceDispatch({ codec: msgpackCodec, services: [], handlerTimeoutMs: bad })).toThrow(
        expect.objectContaining({ code: ErrorCode.InvalidArgument, message: `handlerTimeoutMs must be a number of ms >= 0 (0: off), got ${bad}` }),
      );
    }
  });
});

describe('client-side behaviour', () => {
  it('rejects with Encode and sends nothing when the argument cannot be encoded', async () => {
    const { calc, stream } = await setup();
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    await expect(calc.add(circular as never)).rejects.toMatchObject({ code: ErrorCode.Encode });
    expect(stream.inFlight).toBe(0);
    expect(await calc.add({ a: 2, b: 2 })).toBe(4);
  });

  it('cancels a call with an AbortSignal: Cancelled at once, window slot freed', async () => {
    const { calc, stream } = await setup();
    const ac = new AbortController();
    const p = calc.hang(undefined, { signal: ac.signal });
    expect(stream.inFlight).toBe(1);
    ac.abort();
    await expect(p).rejects.toMatchObject({ code: ErrorCode.Cancelled });
    expect(stream.inFlight).toBe(0);
  });

  it('applies a per-call timeout', async () => {
    const { calc } = await setup();
    await expect(within(calc.hang(undefined, { timeoutMs: 150 }), 5000)).rejects.toMatchObject({ code: ErrorCode.Timeout });
  });

  it('reports an unknown custom error number as a RemoteError', async () => {
    const Other = service('Calculator', { div: method<{ a: number; b: number }, number>() });
    const { stream } = await setup();
    const err = await createClient(Other, stream, { codec: msgpackCodec }).div({ a: 1, b: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err.payload).toBe(1);
  });
});

describe('Standard Schema validation', () => {
  const Users = service('Users', {
    create: method({ input: z.object({ name: z.string().min(2), age: z.number().int() }), output: z.object({ id: z.number() }) }),
    rename: method({ input: v.object({ name: v.pipe(v.string(), v.minLength(2)) }) }),
  });
  const Loose = service('Users', { create: method<unknown, unknown>(), rename: method<unknown, unknown>() });

  async function users(result: unknown = { id: 1 }) {
    let handled = 0;
    const s = await serve({
      codec: msgpackCodec,
      services: [implement(Users, { create: () => (handled++, result as { id: number }), rename: () => void handled++ })],
    });
    cleanup.push(() => s.close());
    return { s, handled: () => handled, typed: createClient(Users, s.stream, { codec: msgpackCodec }), loose: createClient(Loose, s.stream, { codec: msgpackCodec }) };
  }

  it('rejects a bad argument on the client before sending, naming the method and the path', async () => {
    const { typed, handled, s } = await users();
    const err = await typed.create({ name: 'x', age: 3 }).catch((e) => e);
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument });
    expect(err.message).toMatch(/Users\.create: invalid argument: name: /);
    expect(s.stream.inFlight).toBe(0);
    expect(handled()).toBe(0);
    expect(await typed.create({ name: 'ann', age: 3 })).toEqual({ id: 1 });
  });

  it('rejects a bad argument on the server before the handler runs (valibot too)', async () => {
    const { loose, handled } = await users();
    await expect(loose.create({ name: 'ann', age: 'old' })).rejects.toMatchObject({
      code: ErrorCode.InvalidArgument,
      message: expect.stringMatching(/Users\.create: invalid argument: age: /),
    });
    await expect(loose.rename({ name: 'a' })).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: /name/ });
    expect(handled()).toBe(0);
  });

  it('refuses a handler result that breaks the output schema with Internal', async () => {
    const { typed } = await users({ id: 'not a number' });
    await expect(typed.create({ name: 'ann', age: 3 })).rejects.toMatchObject({ code: ErrorCode.Internal });
  });

  it('fills in defaults on both sides: the client may leave a field out, and so may the handler', async () => {
    const Search = service('Search', {
      find: method({
        input: z.object({ q: z.string(), page: z.number().default(1) }),
        output: z.object({ hits: z.array(z.string()), total: z.number().default(0) }),
      }),
    });
    const seen: unknown[] = [];
    const s = await serve({ codec: msgpackCodec, services: [implement(Search, { find: (arg) => (seen.push(arg), { hits: [arg.q] }) })] });
    cleanup.push(() => s.close());
    const search = createClient(Search, s.stream, { codec: msgpackCodec });
    expect(await search.find({ q: 'x' })).toEqual({ hits: ['x'], total: 0 });
    expect(seen).toEqual([{ q: 'x', page: 1 }]);
  });

  it('does not handle a call cancelled while its asynchronous schema ran', async () => {
    const gate = deferred<void>();
    let entered = 0;
    const later: StandardSchemaV1<unknown, string> = {
      '~standard': { version: 1, vendor: 'test', validate: (value) => (entered++, gate.promise.then(() => ({ value: String(value) }))) },
    };
    let handled = 0;
    const Gated = service('Gated', { go: method({ input: later }) });
    const s = await serve({ codec: msgpackCodec, services: [implement(Gated, { go: () => void handled++ })] });
    cleanup.push(() => s.close());
    await s.stream.ping(); // the hello is answered: a call can be cancelled
    // A client without the schema: the server's check is the one that waits.
    const unchecked = createClient(service('Gated', { go: method<string, void>() }), s.stream, { codec: msgpackCodec });
    const ac = new AbortController();
    const call = unchecked.go('x', { signal: ac.signal }).catch((e: RpcError) => e.codeName);
    await waitFor(() => entered === 1, { what: 'the server to check the argument' });
    ac.abort();
    expect(await call).toBe('Cancelled');
    await waitFor(() => s.server.stats().inFlight === 0, { what: 'the server to drop the call' });
    gate.resolve();
    await s.stream.ping(); // the server has run what the check's end set off
    expect(handled).toBe(0);
    expect(await createClient(Gated, s.stream, { codec: msgpackCodec }).go('y')).toBeUndefined();
    expect(handled).toBe(1);
  });

  it("answers a handler's thenable (a query builder's result) with its value, with and without filters", async () => {
    const thenable = <T,>(value: T): PromiseLike<T> => ({ then: (ok, fail) => Promise.resolve(value).then(ok, fail) });
    const Rows = service('Rows', { count: method<string, number>(), missing: method<string, number>() });
    const rows = implement(Rows, {
      count: (table) => thenable(table.length) as unknown as Promise<number>,
      missing: () => ({ then: (_ok: unknown, fail: (e: unknown) => void) => fail(new RpcError(ErrorCode.PermissionDenied, 'not your table')) }) as unknown as Promise<number>,
    });
    for (const filters of [[], [{ before: () => {} }]]) {
      const s = await serve({ codec: msgpackCodec, services: [rows], filters });
      cleanup.push(() => s.close());
      const client = createClient(Rows, s.stream, { codec: msgpackCodec });
      expect(await client.count('users')).toBe(5);
      await expect(client.missing('x')).rejects.toMatchObject({ code: ErrorCode.PermissionDenied });
    }
  });

  it('awaits a schema whose validate returns any thenable (a promise of another realm), on both sides', async () => {
    // A name of at least 2 characters, checked asynchronously; the value comes back trimmed.
    const thenable = <T,>(value: T): PromiseLike<T> => ({ then: (ok, fail) => Promise.resolve(value).then(ok, fail) });
    const name: StandardSchemaV1<unknown, string> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: (value) =>
          thenable(typeof value === 'string' && value.trim().length >= 2 ? { value: value.trim() } : { issues: [{ message: 'too short' }] }) as Promise<
            StandardSchemaV1.Result<string>
          >,
      },
    };
    const Names = service('Names', { greet: method({ input: name }) });
    const s = await serve({ codec: msgpackCodec, services: [implement(Names, { greet: (n) => `hi ${n}` })] });
    cleanup.push(() => s.close());
    const names = createClient(Names, s.stream, { codec: msgpackCodec });
    expect(await names.greet('  ann ')).toBe('hi ann');
    await expect(names.greet('a')).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: 'Names.greet: invalid argument: (root): too short' });
    expect(s.stream.inFlight).toBe(0);
    // The server checks too: what a client without the schema sends.
    const Unchecked = service('Names', { greet: method<unknown, string>() });
    await expect(createClient(Unchecked, s.stream, { codec: msgpackCodec }).greet('a')).rejects.toMatchObject({ code: ErrorCode.InvalidArgument });
  });
});
