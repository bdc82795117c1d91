import { silentLogger } from '@skein/core';
import { cleanups, memoryLogger, portOf, waitFor } from '@skein/test-utils';
import { wsTransport } from '@skein/transport-ws';
import { expect, it } from 'vitest';
import { ConnPool, RpcServer, createRouter } from '../src/index.js';

const cleanup = cleanups();

// A token written into a ws:// address's query (`ws://h:1/skein?token=…`, which parseAddress
// reads) was in a ConnPool's log lines ('pool state', 'connection lost', …) and its calls' errors
// ("pool for … is closed"): both name the address without its query. Its key does not change.
it("keeps a ws:// address's query out of a ConnPool's log lines and errors, not out of its key", async () => {
  const ws = wsTransport();
  const server = new RpcServer({ dispatch: createRouter({ 1: () => undefined }), logger: silentLogger });
  const port = portOf(await server.listen(ws, '127.0.0.1:0'));
  const logger = memoryLogger();
  const pool = new ConnPool({
    transport: ws,
    address: `ws://127.0.0.1:${port}/skein?token=s3cret`,
    logger,
    onStateChange: () => {
      throw new Error('a faulty callback');
    },
  });
  cleanup.push(() => pool.close());
  await pool.call(1, new Uint8Array(), { timeoutMs: 10_000 });
  await server.close();
  await waitFor(() => logger.lines.some((l) => l.msg === 'connection lost' || l.msg === 'the server closed an idle connection'), { what: "the pool's loss of its connection" });
  // Waits for a connection the server's going away will not give it, until the pool closes.
  const waiting = failure(pool.call(1, new Uint8Array(), { timeoutMs: 10_000 }));
  await pool.close();
  const errors = [await waiting, await failure(pool.call(1, new Uint8Array(), { timeoutMs: 10_000 }))];

  const shown = `ws://127.0.0.1:${port}/skein?…`;
  for (const err of errors) expect(err.message).toContain(shown);
  const said = JSON.stringify(logger.lines, (_k, v: unknown) => (v instanceof Error ? v.message : v));
  for (const msg of ['pool state', 'onStateChange threw']) expect(logger.lines.find((l) => l.msg === msg)?.obj.address).toBe(shown);
  expect(`${said} ${errors.map((e) => e.message).join(' ')}`).not.toContain('s3cret');
  // Its key, what a FailoverPool and discovery know it by and what it dials, keeps the query.
  expect(pool.address).toBe(`ws://127.0.0.1:${port}/skein?token=s3cret`);
});

const failure = (p: Promise<unknown>): Promise<Error> => p.then(() => expect.unreachable('the call succeeded'), (e: unknown) => e as Error);
