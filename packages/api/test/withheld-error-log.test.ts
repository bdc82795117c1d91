import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError } from '@skein/core';
import { ConnPool } from '@skein/stream';
import { freePort, memoryLogger, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, implement, method, serverStream, service } from '../src/index.js';
import { serve, transport } from './harness.js';

// Client → A, whose handler calls B and passes on B's error. Without exposeInternalErrors A's
// caller gets `rpc_unreachable` alone: B's words (why, which address) must then be in A's log,
// or nobody ever sees them. The README: "logs failed calls (a handler that throws)".

const Down = service('Down', { work: method<void, void>() });
const Front = service('Front', { op: method<void, void>() });

const cleanup = cleanups();

async function frontOverDeadB(expose: boolean) {
  const address = `127.0.0.1:${await freePort()}`; // nothing listens: B is down
  const pool = new ConnPool({ transport, address, connectBudgetMs: 100 });
  cleanup.push(() => pool.destroy());
  const b = createClient(Down, pool, { codec: msgpackCodec });
  const logger = memoryLogger();
  const a = await serve({
    codec: msgpackCodec,
    logger,
    exposeInternalErrors: expose,
    services: [implement(Front, { op: () => b.work() })],
  });
  cleanup.push(() => a.close());
  const err = await createClient(Front, a.stream, { codec: msgpackCodec }).op().then(() => undefined, (e: unknown) => e);
  return { err: err as RpcError, logger, address };
}

describe("createServiceDispatch: a handler's RpcError whose words stay on the server is logged there", () => {
  it('B down: the caller gets the bare code, A logs B\'s words naming the method', async () => {
    const { err, logger, address } = await frontOverDeadB(false);
    expect(err).toBeInstanceOf(RpcError);
    expect(err.code).toBe(ErrorCode.Unreachable);
    expect(err.message).not.toContain(address);
    const line = logger.lines.find((l) => l.level === 'warn' && l.msg?.includes('Front.op'));
    expect(line, JSON.stringify(logger.lines)).toBeDefined();
    expect(String((line!.obj.err as Error).message)).toContain(address);
  });

  it("a streaming method's passed-on error is logged the same way (stream-dispatch answers through the same path)", async () => {
    const address = `127.0.0.1:${await freePort()}`; // nothing listens: B is down
    const pool = new ConnPool({ transport, address, connectBudgetMs: 100 });
    cleanup.push(() => pool.destroy());
    const b = createClient(Down, pool, { codec: msgpackCodec });
    const Feed = service('Feed', { events: serverStream<void, number>() });
    const logger = memoryLogger();
    const a = await serve({
      codec: msgpackCodec,
      logger,
      services: [implement(Feed, { events: async function* () { yield 1; await b.work(); } })],
    });
    cleanup.push(() => a.close());
    const items: number[] = [];
    const err = await (async () => { for await (const v of await createClient(Feed, a.stream, { codec: msgpackCodec }).events()) items.push(v); })().then(() => undefined, (e: unknown) => e as RpcError);
    expect(items).toEqual([1]);
    expect(err).toMatchObject({ code: ErrorCode.Unreachable });
    const lines = logger.lines.filter((l) => l.level === 'warn' || l.level === 'error');
    expect(lines, JSON.stringify(logger.lines)).toHaveLength(1);
    expect(lines[0]!.msg).toBe('Feed.events failed with Unreachable');
    expect(String((lines[0]!.obj.err as Error).message)).toContain(address);
  });

  it("a handler's own InvalidArgument, whose words go to the caller, is not logged", async () => {
    const logger = memoryLogger();
    const a = await serve({ codec: msgpackCodec, logger, services: [implement(Front, { op: () => { throw new RpcError(ErrorCode.InvalidArgument, 'bad sku'); } })] });
    cleanup.push(() => a.close());
    const err = await createClient(Front, a.stream, { codec: msgpackCodec }).op().then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ code: ErrorCode.InvalidArgument });
    expect(logger.lines.filter((l) => l.level === 'warn' || l.level === 'error')).toEqual([]);
  });

  // A handler's own Unauthenticated or Overloaded reaches its caller as the code alone (by design,
  // docs/protocol.md): the warn line is where its developer learns why, and what to do instead.
  it.each([
    ['Unauthenticated', ErrorCode.Unauthenticated, 'rpc_unauthenticated', /belongs in a server filter's before \(as bearerAuth\), whose Unauthenticated keeps its words/],
    ['Overloaded', ErrorCode.Overloaded, 'rpc_overloaded', /belongs in a server filter's before \(as overloadShedding\), which the caller reads as not run/],
    ['Timeout', ErrorCode.Timeout, 'rpc_timeout', /^Front\.op failed with Timeout \(thrown by the handler: its caller got rpc_timeout without these words; to tell/],
  ] as const)("a handler's own %s: the caller gets the code alone, the server's warn line says what to do", async (_name, code, wire, where) => {
    const logger = memoryLogger();
    const a = await serve({ codec: msgpackCodec, logger, services: [implement(Front, { op: () => { throw new RpcError(code, 'token of user 7 expired'); } })] });
    cleanup.push(() => a.close());
    const err = await createClient(Front, a.stream, { codec: msgpackCodec }).op().then(() => undefined, (e: unknown) => e as RpcError);
    expect(err).toMatchObject({ code });
    expect(err!.message).not.toContain('user 7');
    const lines = logger.lines.filter((l) => l.level === 'warn');
    expect(lines, JSON.stringify(logger.lines)).toHaveLength(1);
    const msg = lines[0]!.msg!;
    expect(msg).toMatch(where);
    expect(msg).toContain(`its caller got ${wire} without these words`);
    expect(msg).toMatch(/throw InvalidArgument or PermissionDenied, or an error declared with \.throws\(codeErrors\(\.\.\.\)\), or set exposeInternalErrors; see docs\/protocol\.md\)$/);
  });

  it('with exposeInternalErrors the words went to the caller: the line has no hint', async () => {
    const logger = memoryLogger();
    const a = await serve({ codec: msgpackCodec, logger, exposeInternalErrors: true, services: [implement(Front, { op: () => { throw new RpcError(ErrorCode.Unauthenticated, 'token of user 7 expired'); } })] });
    cleanup.push(() => a.close());
    await createClient(Front, a.stream, { codec: msgpackCodec }).op().then(() => undefined, () => undefined);
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.msg)).toEqual(['Front.op failed with Unauthenticated']);
  });
});
