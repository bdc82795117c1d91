import { cborCodec } from '@skein/codec-cbor';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, silentLogger } from '@skein/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClientStream, RpcServer, createRouter } from '@skein/stream';
import { createClient, implement, method, service } from '../src/index.js';
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

describe('a reply that does not decode', () => {
  /** A raw server whose `Svc.echo` answers each call with the next of `replies`, as they are. */
  async function rawServer(replies: Uint8Array[]) {
    let n = 0;
    const server = new RpcServer({ dispatch: createRouter({ 'Svc.echo': () => replies[n++]! }, silentLogger) });
    const a = await server.listen(transport, '127.0.0.1:0');
    const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${'port' in a ? a.port : 0}` });
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
