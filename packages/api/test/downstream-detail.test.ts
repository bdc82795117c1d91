import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { ClientStream, ConnPool, RpcServer, createRouter } from '@skein/stream';
import { freePort, portOf, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, implement, method, service, type Filter } from '../src/index.js';
import { serve, transport } from './harness.js';

// Client → server A, whose handler calls server B and fails with what B's side said. B's words
// (its address, a host name) are A's internals: they reach A's caller only if A exposes them.

const Down = service('Down', { work: method<void, void>() });
const Front = service('Front', { op: method<void, void>() });

const cleanup = cleanups();

/** B down, called through a pool with room for one waiting call: the second fails Overloaded, naming B. */
async function downB(): Promise<{ work: () => Promise<void>; address: string }> {
  const address = `127.0.0.1:${await freePort()}`;
  const pool = new ConnPool({ transport, address, maxQueued: 1 });
  cleanup.push(() => pool.destroy());
  const b = createClient(Down, pool, { codec: msgpackCodec });
  const work = (): Promise<void> => {
    b.work(undefined, { timeoutMs: 1_000 }).catch(() => {});
    return b.work(undefined, { timeoutMs: 1_000 });
  };
  return { work, address };
}

/** B closed under a stream of A's: a call fails Closed, naming B. */
async function closedB(): Promise<{ work: () => Promise<void>; address: string }> {
  const server = new RpcServer({ dispatch: createRouter({ 'Down.work': () => undefined }, silentLogger) });
  const a = await server.listen(transport, '127.0.0.1:0');
  const address = `127.0.0.1:${portOf(a)}`;
  const stream = await ClientStream.connect({ transport, address, keepaliveMs: 0 });
  cleanup.push(() => stream.destroy());
  await server.close();
  await stream.closed();
  const b = createClient(Down, stream, { codec: msgpackCodec });
  return { work: () => b.work(), address };
}

async function callThroughA(work: () => Promise<void>, exposeInternalErrors: boolean, filters: Filter[] = []): Promise<RpcError> {
  const a = await serve({ codec: msgpackCodec, logger: silentLogger, exposeInternalErrors, filters, services: [implement(Front, { op: () => work() })] });
  cleanup.push(() => a.close());
  const err = await createClient(Front, a.stream, { codec: msgpackCodec })
    .op()
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(RpcError);
  return err as RpcError;
}

describe("createServiceDispatch: a handler's downstream error keeps B's words on A", () => {
  it.each([
    ['down', downB, ErrorCode.Overloaded, 'Front.op: rpc_overloaded'],
    ['closed', closedB, ErrorCode.Closed, 'Front.op: rpc_closed'],
  ] as const)('B %s: the client reads "may have run", and no word of B\'s address', async (_, b, code, message) => {
    const down = await b();
    const err = await callThroughA(down.work, false);
    expect(err).toMatchObject({ code, retry: 'idempotent', message });
    expect(err.message).not.toContain(down.address);
  });

  it('with exposeInternalErrors, B\'s message travels', async () => {
    const down = await downB();
    const err = await callThroughA(down.work, true);
    expect(err).toMatchObject({ code: ErrorCode.Overloaded, retry: 'idempotent' });
    // A's stub named the call it made: B's words, and which call got them.
    expect(err.message).toBe(`Front.op: Down.work: more than 1 calls waiting for a connection to ${down.address}`);
  });

  // A server filter's call of its own that may have run (a quota service, Overloaded with a detail
  // naming its store): no refusal of A's, so a detail, but B's words stay on A.
  it.each([false, true])('a before filter passing on such an answer, exposeInternalErrors %s', async (exposeInternalErrors) => {
    const quota = new RpcServer({ dispatch: createRouter({ 'Quota.take': (req) => req.fail(ErrorCode.Overloaded, 'store redis-7.internal:6379 overloaded') }, silentLogger) });
    const q = await quota.listen(transport, '127.0.0.1:0');
    cleanup.push(() => quota.close());
    const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(q)}`, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    const takeQuota: Filter = { before: async () => void (await stream.call('Quota.take')) };
    let runs = 0;
    const err = await callThroughA(async () => void runs++, exposeInternalErrors, [takeQuota]);
    expect(runs).toBe(0);
    expect(err).toMatchObject({ code: ErrorCode.Overloaded, retry: 'idempotent' });
    if (exposeInternalErrors) expect(err.message).toBe('Front.op: store redis-7.internal:6379 overloaded');
    else expect(err.message).toBe('Front.op: rpc_overloaded');
  });
});

// A before filter's downstream error of a code that is not "refused unrun" (FrameTooLarge,
// Cancelled) goes through refusalDetail, not the handler's path: B's words stay on A there too.
// Unauthenticated, InvalidArgument and PermissionDenied keep their words (a filter's own "no
// bearer token" is for the caller; Skein cannot tell it from a downstream's passed on as it is).
describe("createServiceDispatch: a before filter's downstream error of another code", () => {
  it("FrameTooLarge from a downstream keeps B's words on A without exposeInternalErrors, and shows them with it", async () => {
    const store = new RpcServer({ dispatch: createRouter({ 'Store.check': (req) => req.fail(ErrorCode.FrameTooLarge, 'blob store s3-proxy.internal:9000 refused 9 MB') }, silentLogger) });
    const t = await store.listen(transport, '127.0.0.1:0');
    cleanup.push(() => store.close());
    const stream = await ClientStream.connect({ transport, address: `127.0.0.1:${portOf(t)}`, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    const check: Filter = { before: async () => void (await stream.call('Store.check')) };
    for (const expose of [false, true]) {
      let runs = 0;
      const err = await callThroughA(async () => void runs++, expose, [check]);
      expect(runs).toBe(0);
      expect(err.code).toBe(ErrorCode.FrameTooLarge);
      if (expose) expect(err.message).toContain('s3-proxy.internal');
      else expect(err.message).toBe('Front.op: rpc_frame_too_large');
    }
  });

  it("a filter's Unauthenticated keeps its words for the caller (its verdict on the caller's credentials); a handler's does not (about its own calls)", async () => {
    const deny: Filter = { before: () => Promise.reject(new RpcError(ErrorCode.Unauthenticated, 'token expired at 12:00')) };
    const fromFilter = await callThroughA(async () => undefined, false, [deny]);
    expect(fromFilter).toMatchObject({ code: ErrorCode.Unauthenticated, message: 'Front.op: token expired at 12:00' });
    const fromHandler = await callThroughA(() => Promise.reject(new RpcError(ErrorCode.Unauthenticated, 'session ended')), false);
    expect(fromHandler).toMatchObject({ code: ErrorCode.Unauthenticated, message: 'Front.op: rpc_unauthenticated' });
  });
});

// Review of e2c429b: Unauthenticated kept its words for a handler's error, and Skein's own
// client makes Unauthenticated errors about A's side of a downstream call (its credentials for B
// could not be fetched, B's URL refused the ws upgrade, B refused A's TLS certificate), whose
// words are A's internals (a secret store's address and error, a host name, A's tls settings).
describe("createServiceDispatch: a downstream's Unauthenticated about A's own credentials", () => {
  it("A's credentials for B could not be fetched: the secret store's words stay on A without exposeInternalErrors", async () => {
    const b = new RpcServer({ dispatch: createRouter({ 'Down.work': () => undefined }, silentLogger), authenticate: () => ({ principal: { name: 'a' } }), logger: silentLogger });
    const t = await b.listen(transport, '127.0.0.1:0');
    cleanup.push(() => b.close());
    const credentials = (): string => {
      throw new Error('vault.internal:8200 is sealed');
    };
    const pool = new ConnPool({ transport, address: `127.0.0.1:${portOf(t)}`, stream: { credentials, keepaliveMs: 0 } });
    cleanup.push(() => pool.destroy());
    const down = createClient(Down, pool, { codec: msgpackCodec });
    const err = await callThroughA(() => down.work(), false);
    expect(err.code).toBe(ErrorCode.Unauthenticated);
    expect(err.message).not.toContain('vault.internal');
  });
});
