import { olderSkeinClient, cleanups, deferred, ManualClock, memoryLogger } from '@skein/test-utils';
import { createRouter, type ClientStream, type ClientStreamOptions, type Dispatch, type Metadata, type RpcServerOptions } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import makeRouter from './fixtures/reply-metadata.mjs';
import { outcome, serve, startPool, transport } from './harness.js';

// Reply metadata a handler sets in a worker (`req.setReplyMetadata`, api's `ctx.setReplyMetadata`)
// reaches its client as it does from a handler on the server's thread: with the answer, ok or
// error, checked as it is set against the bound the client's hello agreed. Before, a worker's
// request had no room for any, and dropped every entry unsaid.

const MODULE = new URL('./fixtures/reply-metadata.mjs', import.meta.url);
const utf8 = new TextEncoder();
const text = new TextDecoder();
/** A kind of hello entry (wire/hello.ts): reply metadata, which an older Skein client does not offer. */
const REPLY_METADATA_KIND = 27;

const cleanup = cleanups();

async function pool(maxInFlightPerWorker = 64) {
  const logger = memoryLogger();
  const p = await startPool({ module: MODULE, workers: 1, maxInFlightPerWorker, logger, exposeInternalErrors: true });
  cleanup.push(() => p.destroy());
  return { pool: p, logger };
}

async function served(dispatch: Dispatch, clientOpts: Partial<ClientStreamOptions> = {}, serverOpts: Partial<RpcServerOptions> = {}) {
  const s = await serve(dispatch, serverOpts, clientOpts);
  cleanup.push(() => s.close());
  await s.stream.ping();
  return s.stream;
}

/** A call and what its `onReplyMetadata` was told, each time. */
async function told(stream: ClientStream, action: number, msg: unknown) {
  const heard: Metadata[] = [];
  const body = typeof msg === 'string' ? msg : JSON.stringify(msg);
  const out = await outcome(stream.call(action, utf8.encode(body), { onReplyMetadata: (md) => heard.push({ ...md }) }).then((r) => text.decode(r.msg)));
  return { out, heard };
}

/** Every way a handler answers, each with its entries. */
const CASES: [number, unknown][] = [
  [1, { session: 's-1', 'rate-left': '99' }],
  [2, { why: 'a custom error' }],
  [3, { why: 'a built-in error' }],
  [4, '100'], // `small` and `large` both kept
  [4, '9000'], // `large` refused FrameTooLarge as it is set (over 8 KiB); `small` goes
  [5, {}], // sets nothing: told the empty record
];

/**
 * Action 7 with `entries`, on a server whose clock the test drives, with a deadline a minute out
 * by the client's clock: once the handler called back (its entries set a turn before), the
 * server's clock passes the deadline, and the server answers Timeout itself.
 */
async function timedOut(dispatch: Dispatch, entries: Record<string, string>) {
  const clock = new ManualClock();
  const seen = deferred<void>();
  const serve = createRouter({
    seen: () => {
      seen.resolve();
      return new Uint8Array(0);
    },
  });
  const stream = await served(dispatch, { serve }, { clock });
  const heard: Metadata[] = [];
  const call = outcome(stream.call(7, utf8.encode(JSON.stringify(entries)), { timeoutMs: 60_000, onReplyMetadata: (md) => heard.push({ ...md }) }));
  await seen.promise;
  clock.advance(61_000);
  return { out: await call, heard };
}

const run = async (stream: ClientStream) => {
  const got = [];
  for (const [action, msg] of CASES) got.push(await told(stream, action, msg));
  return got;
};

describe('WorkerPool: reply metadata set in a worker', () => {
  it('reaches the client as from a handler in process: with an ok answer, a custom error and a built-in one; an entry over the bound refused as it is set', async () => {
    const { pool: p } = await pool();
    const inProcess = await run(await served(makeRouter()));
    const inWorker = await run(await served(p));
    expect(inWorker).toEqual(inProcess);
    // What both gave, so that neither can be right by dropping everything.
    expect(inWorker.map((g) => g.heard)).toEqual([[{ session: 's-1', 'rate-left': '99' }], [{ why: 'a custom error' }], [{ why: 'a built-in error' }], [{ small: 'kept', large: 'x'.repeat(100) }], [{ small: 'kept' }], [{}]]);
    expect(inWorker[4]!.out).toEqual({ ok: expect.stringMatching(/^RpcError 1\d\d: reply metadata of \d+ bytes .*exceeds the client's limit of 8192$/) });
  });

  it("is checked in the worker against the bound this client's hello agreed (its smaller limits.maxMessage), as in process", async () => {
    const { pool: p } = await pool();
    const small = { limits: { maxMessage: 2048 } };
    const inProcess = await told(await served(makeRouter(), small), 4, '3000');
    const inWorker = await told(await served(p, small), 4, '3000');
    expect(inWorker).toEqual(inProcess);
    expect(inWorker).toEqual({ out: { ok: expect.stringMatching(/exceeds the client's limit of 2048$/) }, heard: [{ small: 'kept' }] });
  });

  it("a batch's answers each carry their own call's metadata, and calls that set none carry none", async () => {
    const { pool: p } = await pool();
    const stream = await served(p);
    // One turn of the client: the worker takes them in one batch and answers them in one.
    const got = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? told(stream, 5, { i: String(i) }) : told(stream, 1, { i: String(i) }))));
    expect(got.map((g) => g.heard)).toEqual(Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? [{}] : [{ i: String(i) }])));
  });

  it("an answer of a batch that could not leave whole still carries its metadata when sent again apart", async () => {
    const { pool: p } = await pool();
    const stream = await served(p);
    const got = await Promise.all([told(stream, 1, { n: 'first' }), told(stream, 6, { n: 'lost' }), told(stream, 1, { n: 'third' })]);
    expect(got[0]).toEqual({ out: { ok: '{"n":"first"}' }, heard: [{ n: 'first' }] });
    expect(got[1]!.out).toMatchObject({ code: 'Internal' });
    expect(got[2]).toEqual({ out: { ok: '{"n":"third"}' }, heard: [{ n: 'third' }] });
  });

  it("the server's own Timeout at the call's deadline carries what the handler in the worker set before it, as in process", async () => {
    const { pool: p } = await pool();
    const entries = { session: 's-7', step: 'set before the deadline' };
    const inProcess = await timedOut(makeRouter(), entries);
    const inWorker = await timedOut(p, entries);
    expect(inWorker).toEqual(inProcess);
    expect(inWorker).toEqual({ out: { code: 'Timeout', retry: expect.anything(), message: expect.stringMatching(/deadline passed/) }, heard: [entries] });
  });

  it('a call with a deadline whose handler sets entries over several turns is told them all with its answer, as in process', async () => {
    const { pool: p } = await pool();
    const steps = [{ a: '1' }, { b: '2' }, {}, { a: 'again', c: '3' }];
    const callWithDeadline = async (dispatch: Dispatch) => {
      const stream = await served(dispatch);
      const heard: Metadata[] = [];
      const out = await outcome(stream.call(8, utf8.encode(JSON.stringify(steps)), { timeoutMs: 60_000, onReplyMetadata: (md) => heard.push({ ...md }) }).then((r) => text.decode(r.msg)));
      return { out, heard };
    };
    const inProcess = await callWithDeadline(makeRouter());
    const inWorker = await callWithDeadline(p);
    expect(inWorker).toEqual(inProcess);
    expect(inWorker).toEqual({ out: { ok: 'done' }, heard: [{ a: 'again', b: '2', c: '3' }] });
  });

  it('a client whose hello did not agree it is sent none, the entries dropped unsaid, as in process', async () => {
    const { pool: p } = await pool();
    const older = { transport: olderSkeinClient(transport, REPLY_METADATA_KIND) };
    const inProcess = await run(await served(makeRouter(), older));
    const inWorker = await run(await served(p, older));
    expect(inWorker).toEqual(inProcess);
    expect(inWorker.every((g) => g.heard.length === 1 && Object.keys(g.heard[0]!).length === 0)).toBe(true);
  });
});
