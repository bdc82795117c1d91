import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError } from '@skein/core';
import { ConnPool } from '@skein/stream';
import { freePort, memoryLogger, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createClient, implement, method, service, type Filter } from '../src/index.js';
import { serve, transport } from './harness.js';

// Review of 03a3cb7 (with e2c429b): a `before` filter's error is answered by refusalDetail,
// which keeps a downstream's words on A without exposeInternalErrors, as a handler's; but only a
// started handler's error was logged, so a filter's downstream failure (an auth or quota service
// down) reached A's caller as a bare code and A's log stayed empty: nobody saw why.

const Down = service('Down', { work: method<void, void>() });
const Front = service('Front', { op: method<void, void>() });

const cleanup = cleanups();

describe("createServiceDispatch: a before filter's RpcError whose words stay on the server is logged there", () => {
  it("the filter's downstream is down: the caller gets the bare code, A logs B's words naming the method", async () => {
    const address = `127.0.0.1:${await freePort()}`; // nothing listens: B is down
    const pool = new ConnPool({ transport, address, connectBudgetMs: 100 });
    cleanup.push(() => pool.destroy());
    const b = createClient(Down, pool, { codec: msgpackCodec });
    const check: Filter = { before: () => b.work() };
    const logger = memoryLogger();
    let runs = 0;
    const a = await serve({ codec: msgpackCodec, logger, filters: [check], services: [implement(Front, { op: async () => void runs++ })] });
    cleanup.push(() => a.close());
    const err = await createClient(Front, a.stream, { codec: msgpackCodec }).op().then(() => undefined, (e: unknown) => e);
    expect(runs).toBe(0);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(ErrorCode.Unreachable);
    expect((err as RpcError).message).not.toContain(address);
    const line = logger.lines.find((l) => l.level === 'warn' && l.msg?.includes('Front.op'));
    expect(line, JSON.stringify(logger.lines)).toBeDefined();
    expect(String((line!.obj.err as Error).message)).toContain(address);
  });
});
