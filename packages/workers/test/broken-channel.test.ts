import { memoryLogger, reap, startProcess, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { WorkerPool } from '../src/index.js';
import { outcome, serve } from './harness.js';

// A worker's channel to the pool that breaks: a handler closes the worker's port, or a message
// one side sent cannot be read by the other (`messageerror`). Nothing then crosses as it
// should, so the worker is ended and replaced, and every call it held fails IO ("may have run",
// naming why), as after a crash; no call waits for an answer that cannot come.

const MODULE = new URL('./fixtures/channel-breaker.mjs', import.meta.url);
const ECHO = 1;
const HOLD = 2;
const CLOSE_PORT = 3;
const UNREADABLE_DETAIL = 4;
const EXIT_92 = 5;
const POST_FOREIGN = 6;
const POST_MALFORMED = 7;
const utf8 = new TextEncoder();
const text = new TextDecoder();

const cleanup = cleanups();

async function served(execArgv: string[] = []) {
  const logger = memoryLogger();
  const pool = await WorkerPool.start({ module: MODULE, workers: 1, logger, exposeInternalErrors: true, execArgv });
  cleanup.push(() => pool.destroy());
  const s = await serve(pool);
  cleanup.push(() => s.close());
  return { pool, logger, stream: s.stream };
}

const call = (stream: Awaited<ReturnType<typeof served>>['stream'], action: number, msg = '') => outcome(stream.call(action, utf8.encode(msg)).then((r) => text.decode(r.msg)));
const mayHaveRun = (action: number, why: RegExp) => ({ code: 'IO', retry: 'idempotent', message: expect.stringMatching(new RegExp(`^action ${action}: worker 0 ${why.source} while holding this call; the handler may have run$`)) });

describe('WorkerPool: a broken channel to a worker', () => {
  it("a handler that closes its worker's port: the calls the worker held fail IO (may have run), the worker is replaced, later calls are answered", async () => {
    const { pool, logger, stream } = await served();
    // One batch: an echo answered in the same turn as the close (its answer cannot leave either), a held call, the close.
    const got = await Promise.all([call(stream, ECHO, 'a'), call(stream, HOLD), call(stream, CLOSE_PORT)]);
    const why = /closed its port to the pool/;
    expect(got).toEqual([mayHaveRun(ECHO, why), mayHaveRun(HOLD, why), mayHaveRun(CLOSE_PORT, why)]);
    expect(await call(stream, ECHO, 'b')).toEqual({ ok: 'b' });
    expect(pool.stats()).toMatchObject({ crashes: 1, workers: 1, inFlight: 0, queued: 0 });
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual([expect.stringMatching(/^worker 0 closed its port to the pool.*; the 3 calls it held failed \(they may have run\); replaced$/)]);
  });

  it('a handler that calls process.exit(92) is reported as an exit with that code, not as a closed port', async () => {
    const { pool, logger, stream } = await served();
    const got = await Promise.all([call(stream, HOLD), call(stream, EXIT_92)]);
    const why = /exited with code 92/;
    expect(got).toEqual([mayHaveRun(HOLD, why), mayHaveRun(EXIT_92, why)]);
    expect(await call(stream, ECHO, 'b')).toEqual({ ok: 'b' });
    expect(pool.stats()).toMatchObject({ crashes: 1, workers: 1, inFlight: 0 });
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(['worker 0 exited with code 92; the 2 calls it held failed (they may have run); replaced']);
  });

  it("a handler that posts a message of its own on the pool's port (null) ends its worker, naming why, and leaves the pool's thread standing", async () => {
    const { pool, logger, stream } = await served();
    const got = await Promise.all([call(stream, HOLD), call(stream, POST_FOREIGN)]);
    const why = /sent the pool a message that is none of the pool's \(null\)/;
    expect(got).toEqual([mayHaveRun(HOLD, why), mayHaveRun(POST_FOREIGN, why)]);
    expect(await call(stream, ECHO, 'b')).toEqual({ ok: 'b' });
    expect(pool.stats()).toMatchObject({ crashes: 1, workers: 1, inFlight: 0 });
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(1);
  });

  it("a handler that posts a batch of the pool's kind that is not as the pool makes it ends its worker, naming why, and leaves the pool's thread standing", async () => {
    const { pool, logger, stream } = await served();
    const got = await Promise.all([call(stream, HOLD), call(stream, POST_MALFORMED)]);
    const why = /sent the pool a message it could not apply \(RangeError: .*\)/;
    expect(got).toEqual([mayHaveRun(HOLD, why), mayHaveRun(POST_MALFORMED, why)]);
    expect(await call(stream, ECHO, 'b')).toEqual({ ok: 'b' });
    expect(pool.stats()).toMatchObject({ crashes: 1, workers: 1, inFlight: 0 });
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(1);
  });

  it("a module that closes its worker's port while it loads makes start reject (InvalidArgument, naming why)", async () => {
    const start = WorkerPool.start({ module: new URL('./fixtures/closes-port-on-load.mjs', import.meta.url), workers: 2, logger: memoryLogger(), execArgv: [] });
    await expect(start).rejects.toMatchObject({ codeName: 'InvalidArgument', message: expect.stringMatching(/^worker pool: worker \d closed its port to the pool/) });
  });

  it("an answer the pool's thread cannot read (messageerror): the worker's calls fail IO (may have run), naming why; it is replaced", async () => {
    // The worker makes a detail no other thread can rebuild: it needs Node's internals for that.
    const { pool, logger, stream } = await served(['--expose-internals']);
    const got = await Promise.all([call(stream, HOLD), call(stream, UNREADABLE_DETAIL), call(stream, ECHO, 'a')]);
    const why = /sent the pool a message it could not read \(.*skein-no-such-module.*\)/;
    expect(got).toEqual([mayHaveRun(HOLD, why), mayHaveRun(UNREADABLE_DETAIL, why), mayHaveRun(ECHO, why)]);
    expect(await call(stream, ECHO, 'b')).toEqual({ ok: 'b' });
    expect(pool.stats()).toMatchObject({ crashes: 1, workers: 1, inFlight: 0 });
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(1);
  });

  // The pool's thread must run with --expose-internals to make the value: a child process (it runs the built packages).
  it('a batch of calls its worker cannot read (messageerror): they fail IO (may have run), naming why; the worker is replaced', async () => {
    const proc = startProcess(process.execPath, ['--expose-internals', new URL('./fixtures/unreadable-call.mjs', import.meta.url).pathname], { NO_COLOR: '1' });
    try {
      const [, json] = await proc.waitForLine(/^RESULT (.*)$/, 25_000);
      const r = JSON.parse(json!);
      const why = /could not read a message from the pool \(.*skein-no-such-module.*\)/;
      expect(r.first).toEqual([mayHaveRun(ECHO, why), mayHaveRun(ECHO, why), mayHaveRun(ECHO, why)]);
      expect(r.after).toEqual({ ok: 'c' });
      expect(r.stats).toMatchObject({ crashes: 1, workers: 1, inFlight: 0 });
      expect(r.errors).toEqual([expect.stringMatching(/^worker 0 could not read a message from the pool .*; the 3 calls it held failed \(they may have run\); replaced$/)]);
      expect(await proc.exited).toBe(0);
    } finally {
      await reap(proc);
    }
  });
});
