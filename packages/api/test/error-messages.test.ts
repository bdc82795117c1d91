import { cborCodec } from '@skein/codec-cbor';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RemoteError, RpcError, codeErrors, silentLogger } from '@skein/core';
import { portOf, startProcess } from '@skein/test-utils';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClientStream, ConnPool, RpcServer, createRouter } from '@skein/stream';
import { createClient, createServiceDispatch, implement, method, serverStream, service, type Filter } from '../src/index.js';
import { memoryLogger, serve, transport } from './harness.js';

// Errors that say what happened: which method, and the likely cause.

const Svc = service('Svc', {
  echo: method<Uint8Array, Uint8Array>(),
  crash: method<void, void>(),
});
const impl = implement(Svc, {
  echo: (b) => b,
  crash: () => {
    throw new Error('disk on fire');
  },
});
/** The same service as a newer client sees it: one method more. */
const NewerSvc = service('Svc', { echo: method<Uint8Array, Uint8Array>(), added: method<void, void>() });
const Missing = service('Missing', { any: method<void, void>() });

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function setup(extra: Partial<Parameters<typeof serve>[0]> = {}) {
  const s = await serve({ codec: msgpackCodec, services: [impl], logger: silentLogger, ...extra });
  cleanup.push(() => s.close());
  return s;
}

describe('not-found errors name the method', () => {
  it('on the client, from a bare razor-compatible answer', async () => {
    const { stream } = await setup();
    await expect(createClient(NewerSvc, stream, { codec: msgpackCodec }).added()).rejects.toMatchObject({
      code: ErrorCode.Method,
      retry: 'never',
      message: 'Svc.added: no such method on the server (rpc_method_notfound)',
    });
    await expect(createClient(Missing, stream, { codec: msgpackCodec }).any()).rejects.toMatchObject({
      code: ErrorCode.Service,
      message: 'Missing.any: no such service on the server (rpc_service_notfound)',
    });
  });

  it('on the wire too, between Skein peers (exposeInternalErrors)', async () => {
    const { stream } = await setup({ exposeInternalErrors: true });
    await expect(stream.call('Svc.added')).rejects.toMatchObject({ code: ErrorCode.Method, message: 'Svc.added: no such method' });
    await expect(stream.call('Missing.any')).rejects.toMatchObject({ code: ErrorCode.Service, message: 'Missing.any: no such service' });
    await expect(stream.call(7)).rejects.toMatchObject({ code: ErrorCode.Method, message: 'action 7: no such action' });
  });
});

describe('a handler crash', () => {
  it('is logged by default on the console, naming the method', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
    const s = await serve({ codec: msgpackCodec, services: [impl] }); // no logger given
    cleanup.push(() => s.close());
    await expect(createClient(Svc, s.stream, { codec: msgpackCodec }).crash()).rejects.toMatchObject({ code: ErrorCode.Internal });
    vi.restoreAllMocks();
    expect(lines).toEqual([expect.stringMatching(/error Svc\.crash: handler threw an undeclared error .*disk on fire/)]);
  });

  it('is not logged with silentLogger, and goes to the logger given', async () => {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void lines.push(args.join(' ')));
    const quiet = await setup();
    await createClient(Svc, quiet.stream, { codec: msgpackCodec }).crash().catch(() => {});
    const logger = memoryLogger();
    const logged = await setup({ logger });
    await createClient(Svc, logged.stream, { codec: msgpackCodec }).crash().catch(() => {});
    vi.restoreAllMocks();
    expect(lines).toEqual([]);
    expect(logger.lines).toMatchObject([{ level: 'error', msg: 'Svc.crash: handler threw an undeclared error', obj: { action: 'Svc.crash' } }]);
  });
});

describe("a server filter's undeclared error", () => {
  it('is logged as thrown before the handler ran, not as the handler\'s', async () => {
    let ran = 0;
    const counted = implement(Svc, { echo: (b) => (ran++, b), crash: () => {} });
    const refuse: Filter = {
      before: () => {
        throw new Error('filter on fire');
      },
    };
    const logger = memoryLogger();
    const s = await serve({ codec: msgpackCodec, services: [counted], filters: [refuse], logger });
    cleanup.push(() => s.close());
    await expect(createClient(Svc, s.stream, { codec: msgpackCodec }).echo(new Uint8Array([1]))).rejects.toMatchObject({ code: ErrorCode.Internal });
    expect(ran).toBe(0);
    expect(logger.lines).toMatchObject([{ level: 'error', msg: 'Svc.echo: an undeclared error before its handler ran (a server filter or the codec threw it)' }]);
  });
});

describe('a reply that does not decode', () => {
  /** A raw server whose `Svc.echo` answers each call with the next of `replies`, as they are. */
  async function rawServer(replies: Uint8Array[]) {
    let n = 0;
    const server = new RpcServer({ dispatch: createRouter({ 'Svc.echo': () => replies[n++]! }, silentLogger) });
    const a = await server.listen(transport, '127.0.0.1:0');
    const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}` });
    cleanup.push(() => server.close(), () => stream.destroy());
    return createClient(Svc, stream, { codec: msgpackCodec });
  }
  const undecodable = new Uint8Array([0xc1]); // a byte msgpack never uses
  const valid = msgpackCodec.encode(new Uint8Array([7]));

  it('hints at a codec or transport mismatch when no reply has decoded yet', async () => {
    const svc = await rawServer([undecodable]);
    const err = await svc.echo(new Uint8Array([1])).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Decode });
    expect((err as Error).message).toMatch(/^Svc\.echo: the first reply this client got does not decode with msgpack .*same codec.*same transport/);
  });

  it('says nothing of codecs once a reply has decoded', async () => {
    const svc = await rawServer([valid, undecodable]);
    expect(await svc.echo(new Uint8Array([1]))).toEqual(new Uint8Array([7]));
    const err = await svc.echo(new Uint8Array([1])).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Decode });
    expect((err as Error).message).not.toMatch(/codec|first reply/);
  });

  it("one client's methods share what it learned: a reply decoded by one, another's first reply that does not decode gets no codec hint", async () => {
    const Two = service('Svc', { echo: method<Uint8Array, Uint8Array>(), added: method<void, void>() });
    const server = new RpcServer({ dispatch: createRouter({ 'Svc.echo': () => valid, 'Svc.added': () => undecodable }, silentLogger) });
    const a = await server.listen(transport, '127.0.0.1:0');
    const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(a)}` });
    cleanup.push(() => server.close(), () => stream.destroy());
    const two = createClient(Two, stream, { codec: msgpackCodec });
    expect(await two.echo(new Uint8Array([1]))).toEqual(new Uint8Array([7]));
    const err = await two.added().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.Decode });
    expect((err as Error).message).not.toMatch(/codec|first reply/);
    // Made again with the same options it is the same client, and knows what it learned.
    const again = await createClient(Two, stream, { codec: msgpackCodec }).added().catch((e: unknown) => e);
    expect((again as Error).message).not.toMatch(/codec|first reply/);
    // Another client (other options) has decoded nothing yet: its first reply that does not decode is hinted at.
    const fresh = await createClient(Two, stream, { codec: msgpackCodec, timeoutMs: 5000 }).added().catch((e: unknown) => e);
    expect((fresh as Error).message).toMatch(/first reply this client got/);
  });

  it('hints at a codec mismatch when the server cannot decode the argument before any reply decoded', async () => {
    const s = await serve({ codec: cborCodec, services: [impl], logger: silentLogger });
    cleanup.push(() => s.close());
    const svc = createClient(Svc, s.stream, { codec: msgpackCodec }); // the server speaks CBOR
    await expect(svc.echo(new Uint8Array([1, 2, 3]))).rejects.toMatchObject({
      code: ErrorCode.Decode,
      message: 'Svc.echo: the server could not decode the argument (rpc_decode), and no reply to this client has decoded yet: does the server use msgpack too?',
    });
  });
});

describe('every error a stub raises names the method, code, retry and cause unchanged', () => {
  const Calc = service('Calc', {
    add: method<{ a: number; b: number }, number>(),
    hang: method<void, void>(),
    ticks: serverStream<void, number>(),
  });
  const calcImpl = implement(Calc, {
    add: ({ a, b }) => a + b,
    hang: () => new Promise<never>(() => {}),
    async *ticks() {
      yield 1;
    },
  });
  /** What the server's load shedder says to a call it refuses unrun: a bare `rpc_overloaded`. */
  const shedAll: Filter = {
    name: 'shed-all',
    before() {
      throw new RpcError(ErrorCode.Overloaded);
    },
  };
  const fail = (p: Promise<unknown>): Promise<RpcError> => p.then(() => Promise.reject(new Error('resolved')), (e: RpcError) => e);
  const same = (err: RpcError, raw: RpcError, action: string) => {
    expect(err).toBeInstanceOf(RpcError);
    expect({ code: err.code, retry: err.retry, message: err.message }).toEqual({ code: raw.code, retry: raw.retry, message: `${action}: ${raw.message}` });
    expect(err.cause).toBe(raw.cause);
  };

  it('IO: the server killed mid-call', async () => {
    const proc = startProcess(process.execPath, [fileURLToPath(new URL('./fixtures/hang-server.mjs', import.meta.url))]);
    cleanup.push(() => (proc.kill('SIGKILL'), proc.exited));
    const [, port] = await proc.waitForLine(/listening (\d+)/);
    const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${port}`, keepaliveMs: 0, window: 2 });
    cleanup.push(() => stream.destroy());
    const calc = createClient(Calc, stream, { codec: msgpackCodec });
    const typed = fail(calc.add({ a: 1, b: 2 }));
    const raw = fail(stream.call('Calc.add', msgpackCodec.encode({ a: 1, b: 2 })));
    const unsent = fail(calc.add({ a: 1, b: 2 })); // waits for the window: never sent, so safe to retry (IO's default is idempotent)
    await proc.waitForLine(/started/);
    proc.kill('SIGKILL');
    const err = await typed;
    expect(err.code).toBe(ErrorCode.IO);
    expect(err.message).toMatch(/^Calc\.add: connection to 127\.0\.0\.1:\d+ lost/);
    same(err, await raw, 'Calc.add'); // the same cause: the one that ended the connection
    expect(err.cause).toBeInstanceOf(Error);
    expect(await unsent).toMatchObject({ code: ErrorCode.IO, retry: 'safe', message: expect.stringMatching(/^Calc\.add: connection to .* lost before the call was sent: \S.*$/) });
  });

  it('Timeout: no reply in time', async () => {
    const s = await serve({ codec: msgpackCodec, services: [calcImpl], logger: silentLogger });
    cleanup.push(() => s.close());
    // The stream's own bound, which the server is not told: the client alone times the calls out.
    const stream = await ClientStream.connect({ transport, address: s.address, keepaliveMs: 0, timeoutMs: 100, tickMs: 20 });
    cleanup.push(() => stream.destroy());
    const err = await fail(createClient(Calc, stream, { codec: msgpackCodec }).hang());
    const raw = await fail(stream.call('Calc.hang'));
    expect(err.code).toBe(ErrorCode.Timeout);
    expect(err.message).toMatch(/^Calc\.hang: no reply from 127\.0\.0\.1:\d+ within 100 ms$/);
    same(err, raw, 'Calc.hang');
  });

  it('Overloaded: refused unrun by the server, bare on the wire (safe to retry, as it was)', async () => {
    const s = await serve({ codec: msgpackCodec, services: [calcImpl], logger: silentLogger, filters: [shedAll] });
    cleanup.push(() => s.close());
    const calc = createClient(Calc, s.stream, { codec: msgpackCodec });
    const err = await fail(calc.add({ a: 1, b: 2 }));
    const raw = await fail(s.stream.call('Calc.add', msgpackCodec.encode({ a: 1, b: 2 })));
    expect(raw.message).toBe('rpc_overloaded');
    expect(err).toMatchObject({ code: ErrorCode.Overloaded, retry: 'safe', message: 'Calc.add: rpc_overloaded' });
    same(err, raw, 'Calc.add');
    expect('cause' in err).toBe(false);
    // A streaming method's too, and its `.result()` form.
    const read = async (): Promise<void> => {
      for await (const _ of await calc.ticks());
    };
    expect(await fail(read())).toMatchObject({ code: ErrorCode.Overloaded, retry: 'safe', message: 'Calc.ticks: rpc_overloaded' });
    expect(await calc.add.result({ a: 1, b: 2 })).toMatchObject({ ok: false, error: { message: 'Calc.add: rpc_overloaded' } });
  });

  it('Overloaded: more calls waiting on the stream than it takes, each named for its own method', async () => {
    const s = await serve({ codec: msgpackCodec, services: [calcImpl], logger: silentLogger });
    cleanup.push(() => s.close());
    const stream = await ClientStream.connect({ transport, address: s.address, keepaliveMs: 0, window: 1, maxQueued: 1 });
    cleanup.push(() => stream.destroy());
    const calc = createClient(Calc, stream, { codec: msgpackCodec });
    void calc.hang().catch(() => {}); // holds the window
    void calc.hang().catch(() => {}); // waits
    const err = await fail(calc.add({ a: 1, b: 2 }));
    const raw = await fail(stream.call('Calc.add'));
    expect(err.message).toMatch(/^Calc\.add: more than 1 calls waiting on /);
    same(err, raw, 'Calc.add');
  });

  it('one error shared by several waiting calls (a pool failing them with one refusal) is named once for each, never changed', async () => {
    const server = new RpcServer({ dispatch: createServiceDispatch({ codec: msgpackCodec, services: [calcImpl], logger: silentLogger }), authenticate: () => undefined });
    const a = await server.listen(transport, '127.0.0.1:0');
    cleanup.push(() => server.close());
    const pool = new ConnPool({ transport, address: `127.0.0.1:${portOf(a)}`, stream: { credentials: 'wrong', keepaliveMs: 0 } });
    cleanup.push(() => pool.destroy());
    const calc = createClient(Calc, pool, { codec: msgpackCodec });
    const [add, hang] = await Promise.all([fail(calc.add({ a: 1, b: 2 })), fail(calc.hang())]);
    expect(add.message).toBe('Calc.add: credentials refused');
    expect(hang.message).toBe('Calc.hang: credentials refused');
    expect(add.code).toBe(ErrorCode.Unauthenticated);
  });

  it('an undeclared custom error (a RemoteError) too, payload kept; a declared one is the method\'s own, as it was', async () => {
    class Refused extends Error {}
    const Declared = service('Calc', { add: method<{ a: number; b: number }, number>().throws(codeErrors({ 7: Refused })) });
    const s = await serve({ codec: msgpackCodec, services: [implement(Declared, { add: () => Promise.reject(new Refused('no')) })], logger: silentLogger });
    cleanup.push(() => s.close());
    const err = await createClient(Calc, s.stream, { codec: msgpackCodec }).add({ a: 1, b: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({ payload: 7, message: 'Calc.add: remote error 7' });
    const own = await createClient(Declared, s.stream, { codec: msgpackCodec }).add({ a: 1, b: 2 }).catch((e: unknown) => e);
    expect(own).toBeInstanceOf(Refused);
    expect((own as Error).message).toBe('');
  });

  it("a custom error the method's codec cannot read is the RemoteError, and the client's logger says so", async () => {
    class Refused extends Error {}
    const Declared = service('Calc', { add: method<{ a: number; b: number }, number>().throws(codeErrors({ 7: Refused })) });
    const Other = service('Calc', { add: method<{ a: number; b: number }, number>().throws(codeErrors({ 9: Refused })) });
    const s = await serve({ codec: msgpackCodec, services: [implement(Other, { add: () => Promise.reject(new Refused('no')) })], logger: silentLogger });
    cleanup.push(() => s.close());
    const logger = memoryLogger();
    const err = await createClient(Declared, s.stream, { codec: msgpackCodec, logger }).add({ a: 1, b: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(logger.lines).toMatchObject([{ level: 'warn', msg: 'undeclared custom error', obj: { action: 'Calc.add', payload: 9 } }]);
  });

  it('names an error once: one that names the method already keeps its message', async () => {
    const { stream } = await setup();
    const err = await fail(createClient(NewerSvc, stream, { codec: msgpackCodec }).added());
    expect(err.message).toBe('Svc.added: no such method on the server (rpc_method_notfound)');
  });
});
