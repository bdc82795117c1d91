import { createRouter, type Dispatch, type ServerRequest } from '@skein/stream';
import { memoryLogger, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { WorkerPool } from '../src/index.js';
import makeRouter from './fixtures/unsendable.mjs';
import { outcome, serve, startPool } from './harness.js';

// What cannot cross between the pool's thread and a worker as it is: one call's answer, one
// call's head, one call back. Only the calls at fault fail, each saying whether its handler ran;
// the others of their batch are delivered, and no worker ends.

const MODULE = new URL('./fixtures/unsendable.mjs', import.meta.url);
const utf8 = new TextEncoder();
const text = new TextDecoder();

const cleanup = cleanups();

async function pool() {
  const logger = memoryLogger();
  const p = await startPool({ module: MODULE, workers: 1, logger, exposeInternalErrors: true });
  cleanup.push(() => p.destroy());
  return { pool: p, logger };
}

async function served(dispatch: Dispatch) {
  // The client serves action 1 (echo) for the handlers' calls back.
  const s = await serve(dispatch, {}, { serve: createRouter({ 1: (req) => req.msg }) });
  cleanup.push(() => s.close());
  await s.stream.ping(); // calls both ways are agreed in the hello
  return s;
}

const echoed = (p: Promise<{ msg: Uint8Array }>) => outcome(p.then((r) => text.decode(r.msg)));

describe('WorkerPool: values that cannot cross threads', () => {
  it("a handler's answer that cannot leave its worker fails that call alone (Internal: it ran); the batch's other answers arrive", async () => {
    const { pool: p, logger } = await pool();
    const { stream } = await served(p);
    // One turn of the client: one batch to the worker, whose answers leave as one batch.
    const got = await Promise.all([
      echoed(stream.call(1, utf8.encode('a'))),
      outcome(stream.call(2, new Uint8Array())),
      echoed(stream.call(1, utf8.encode('b'))),
      outcome(stream.call(3, new Uint8Array())),
      echoed(stream.call(1, utf8.encode('c'))),
    ]);
    const ran = { code: 'Internal', retry: 'never', message: expect.stringMatching(/^action \d: the handler ran, but its answer could not leave worker 0: /) };
    expect(got).toEqual([{ ok: 'a' }, ran, { ok: 'b' }, ran, { ok: 'c' }]);
    expect(p.stats()).toMatchObject({ crashes: 0, workers: 1, inFlight: 0 });
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([
      "action 2: worker 0 could not send the handler's answer back (the reply's msg is an ArrayBuffer, not bytes (a Uint8Array)); the call failed Internal",
      expect.stringMatching(/^action 3: worker 0 could not send the handler's answer back \(DataCloneError/),
    ]);
    // The worker goes on.
    expect(await echoed(stream.call(1, utf8.encode('d')))).toEqual({ ok: 'd' });
  });

  it("a handler's error code that is none fails its call Internal on the server's thread, which goes on", async () => {
    const { pool: p, logger } = await pool();
    const { stream } = await served(p);
    const got = await Promise.all([echoed(stream.call(1, utf8.encode('a'))), outcome(stream.call(5, new Uint8Array())), echoed(stream.call(1, utf8.encode('b')))]);
    const why = 'the handler failed with 404, which is no error code';
    expect(got).toEqual([{ ok: 'a' }, { code: 'Internal', retry: 'never', message: `action 5: the handler ran, but its answer could not leave worker 0: ${why}` }, { ok: 'b' }]);
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([`action 5: worker 0 could not send the handler's answer back (${why}); the call failed Internal`]);
    expect(p.stats()).toMatchObject({ crashes: 0, inFlight: 0 });
  });

  it("a raw handler's reply or custom error that is a string, not bytes, fails its call Internal (it ran): no answer goes out as bytes", async () => {
    const { pool: p, logger } = await pool();
    const { stream } = await served(p);
    const got = await Promise.all([
      echoed(stream.call(1, utf8.encode('a'))),
      outcome(stream.call(7, utf8.encode('text'))),
      outcome(stream.call(7, new Uint8Array())),
      outcome(stream.call(9, utf8.encode('text'))),
      echoed(stream.call(1, utf8.encode('b'))),
    ]);
    const reasons = ["the reply's msg is a string, not bytes (a Uint8Array)", "the reply's msg is a string, not bytes (a Uint8Array)", 'the custom error is a string, not bytes (a Uint8Array)'];
    const [reply, empty, custom] = reasons.map((r, i) => ({ code: 'Internal', retry: 'never', message: `action ${i < 2 ? 7 : 9}: the handler ran, but its answer could not leave worker 0: ${r}` }));
    expect(got).toEqual([{ ok: 'a' }, reply, empty, custom, { ok: 'b' }]);
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(
      reasons.map((r, i) => `action ${i < 2 ? 7 : 9}: worker 0 could not send the handler's answer back (${r}); the call failed Internal`),
    );
    expect(p.stats()).toMatchObject({ crashes: 0, workers: 1, inFlight: 0 });
    // A router's handler that returns a string: its router answers Internal, as in process.
    expect(await outcome(stream.call(10, utf8.encode('text')))).toEqual({ code: 'Internal', retry: 'never', message: 'action 10: the handler returned a string, not bytes (a Uint8Array), { msg, blob } or nothing' });
  });

  it("a handler's error code outside the wire's codes (past 2^32, negative, not whole) fails its call Internal naming it: it never wraps into another code", async () => {
    const { pool: p, logger } = await pool();
    const { stream } = await served(p);
    const codes = [2 ** 32 + 105, 2 ** 32 + 1, 2 ** 32 + 7, -1, 7.5, 2 ** 53];
    const got = await Promise.all(codes.map((c) => outcome(stream.call(8, utf8.encode(String(c))))));
    const why = (c: number) => `the handler failed with ${c}, which is no error code`;
    expect(got).toEqual(codes.map((c) => ({ code: 'Internal', retry: 'never', message: `action 8: the handler ran, but its answer could not leave worker 0: ${why(c)}` })));
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(codes.map((c) => `action 8: worker 0 could not send the handler's answer back (${why(c)}); the call failed Internal`));
    expect(p.stats()).toMatchObject({ crashes: 0, inFlight: 0 });
  });

  it('a call whose head cannot be sent to a worker fails alone, unrun (InvalidArgument); the rest of its batch runs', async () => {
    const { pool: p, logger } = await pool();
    // A Dispatch in front of the pool that adds to one call's metadata what no clone can copy.
    const front: Dispatch = {
      dispatch(req: ServerRequest) {
        if (text.decode(req.msg) === 'poison') Object.defineProperty(req, 'metadata', { value: { ...req.metadata, cache: new WeakMap() } });
        p.dispatch(req);
      },
    };
    const { stream, server } = await served(front);
    const metadata = { trace: 't1' }; // calls with a head: it crosses beside the batch
    // The connection is new to the worker: told with the first call that goes, not the one that cannot.
    const got = await Promise.all([
      echoed(stream.call(1, utf8.encode('poison'), { metadata })),
      echoed(stream.call(6, utf8.encode('where'), { metadata })),
      echoed(stream.call(1, utf8.encode('b'), { metadata })),
      echoed(stream.call(11, utf8.encode(''), { metadata: { trace: 't2' } })),
      echoed(stream.call(11, utf8.encode(''))),
      echoed(stream.call(11, utf8.encode(''), { metadata: { trace: 't3', more: 'x' } })),
    ]);
    expect(got).toEqual([
      { code: 'InvalidArgument', retry: 'never', message: expect.stringMatching(/^action 1: the call could not be sent to a worker thread \(DataCloneError: .*\); its handler did not run$/) },
      { ok: server.openConnections()[0]!.remote },
      { ok: 'b' },
      // Sent one by one, each with its own head (or none).
      { ok: '{"trace":"t2"}' },
      { ok: '{}' },
      { ok: '{"trace":"t3","more":"x"}' },
    ]);
    expect(p.stats()).toMatchObject({ crashes: 0, inFlight: 0, queued: 0 });
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(1);
  });

  it("a call back with metadata in a Proxy is sent as in process, and the turn's other call back with it", async () => {
    const inProcess = await served(makeRouter());
    const expected = await echoed(inProcess.stream.call(4, new Uint8Array()));
    expect(expected).toEqual({ ok: JSON.stringify(['plain', 'proxied']) });
    const { pool: p } = await pool();
    const { stream } = await served(p);
    expect(await echoed(stream.call(4, new Uint8Array()))).toEqual(expected);
    expect(p.stats()).toMatchObject({ crashes: 0 });
  });
});

describe('WorkerPool: metadata no look can be taken at', () => {
  it('a call back with metadata in a revoked Proxy is refused InvalidArgument, as in process, and the worker goes on', async () => {
    const refused = { ok: 'RpcError 105: metadata must be an object of strings' };
    const inProcess = await served(makeRouter());
    expect(await echoed(inProcess.stream.call(12, new Uint8Array()))).toEqual(refused);
    const { pool: p } = await pool();
    const { stream } = await served(p);
    expect(await echoed(stream.call(12, new Uint8Array()))).toEqual(refused);
    expect(await echoed(stream.call(1, utf8.encode('after')))).toEqual({ ok: 'after' });
    expect(p.stats()).toMatchObject({ crashes: 0 });
  });
});
