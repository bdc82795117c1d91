import { EMPTY_BYTES, ErrorCode, type RpcError } from '@skein/core';
import { cleanups, deferred, memoryLogger, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createRouter, type Caller } from '../src/index.js';
import { startServer } from './harness.js';

const cleanup = cleanups();

// Found by review helper 254: a reverse call's callback is the server's own code (a raw
// `caller.send`), and one that threw as its connection closed was thrown out of the close: the
// other calls out were never failed, the connection's handlers never told, the connection counted
// open for good and the server's close() waiting for it.
describe("a reverse call's callback that throws as its connection closes", () => {
  it('is logged, and the close goes on: the other call out fails IO, the handler is told, the connection is gone', async () => {
    const logger = memoryLogger();
    const other = deferred<unknown>();
    const told = deferred<void>();
    const s = await startServer(
      {
        hold: (req) =>
          new Promise<Uint8Array>((resolve) => {
            req.conn.caller!.send('peer.never', EMPTY_BYTES, {}, () => {
              throw new Error('a bug in the callback');
            });
            req.conn.caller!.send('peer.never', EMPTY_BYTES, {}, (err) => other.resolve(err));
            req.signal.addEventListener('abort', () => (told.resolve(), resolve(EMPTY_BYTES)));
          }),
      },
      { logger },
    );
    cleanup.push(() => s.server.close());
    let hung = 0;
    const client = await s.connect({ keepaliveMs: 0, serve: createRouter({ 'peer.never': () => (hung++, new Promise<Uint8Array>(() => {})) }) });
    void client.call('hold').catch(() => undefined);
    await waitFor(() => hung === 2, { what: 'both reverse calls running on the client' });
    client.destroy();
    await told.promise;
    expect(await other.promise).toMatchObject({ code: ErrorCode.IO, retry: 'idempotent' });
    await waitFor(() => s.server.connections === 0, { what: 'the connection gone' });
    expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(["a reverse call's callback threw as its connection closed"]);
  });
});

/** A signal that aborts (an AbortError, no timeout's reason) `ms` from now. */
function abortedIn(ms: number): AbortSignal {
  const abort = new AbortController();
  setTimeout(() => abort.abort(), ms);
  return abort.signal;
}

// Its answer, its timeout and its cancel settle it too: a callback that threw there was thrown
// into the connection's reader (closing the connection, failing the client's other calls IO,
// "may have run") or its ticker, or out of the AbortSignal's listener (an uncaught exception).
describe("a reverse call's callback that throws as its answer, timeout or cancel settles it", () => {
  const ways = {
    answer: { action: 'peer.echo', opts: () => ({}) },
    timeout: { action: 'peer.never', opts: () => ({ timeoutMs: 200 }) },
    // A plain abort (AbortSignal.timeout's would read Timeout: signal-timeout.test.ts).
    cancel: { action: 'peer.never', opts: () => ({ signal: abortedIn(200) }) },
  };
  for (const [way, { action, opts }] of Object.entries(ways)) {
    it(`is logged, and the connection goes on: the call that made it is answered (${way})`, async () => {
      const logger = memoryLogger();
      const s = await startServer(
        {
          hold: (req) =>
            new Promise<Uint8Array>((resolve) => {
              req.conn.caller!.send(action, EMPTY_BYTES, opts(), (err) => {
                resolve(new TextEncoder().encode(err === null ? 'answered' : String((err as RpcError).code)));
                throw new Error('a bug in the callback');
              });
            }),
        },
        { logger },
      );
      cleanup.push(() => s.server.close());
      const client = await s.connect({ keepaliveMs: 0, serve: createRouter({ 'peer.echo': (r) => r.msg, 'peer.never': () => new Promise<Uint8Array>(() => {}) }) });
      cleanup.push(() => client.destroy());
      const reply = await client.call('hold');
      expect(new TextDecoder().decode(reply.msg)).toBe({ answer: 'answered', timeout: String(ErrorCode.Timeout), cancel: String(ErrorCode.Cancelled) }[way]);
      // The same connection carries the next call.
      await client.call('hold');
      expect(s.server.connections).toBe(1);
      expect(logger.lines.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(["a reverse call's callback threw", "a reverse call's callback threw"]);
    });
  }
});

// Its immediate refusals too (helper 278): a reverse call refused before it was accepted (bad
// options, a draining or closed connection) tells its callback at once, from within `send`, so
// one that threw was thrown into the handler (or whatever code) that made the call.
describe('a reverse call refused at once whose callback throws', () => {
  it('is logged, and nothing is thrown out of send: bad options, a draining connection, a closed one', async () => {
    const logger = memoryLogger();
    const made = deferred<{ caller: Caller; remote: string }>();
    const release = deferred<void>();
    const told: unknown[] = [];
    const bug = (err: unknown): never => {
      told.push(err);
      throw new Error('a bug in the callback');
    };
    const s = await startServer(
      {
        // Within a handler: a throw out of `send` would fail the call that made it.
        badOptions: (req) => {
          req.conn.caller!.send('peer.echo', EMPTY_BYTES, { timeoutMs: -1 }, bug);
          return new TextEncoder().encode('answered');
        },
        hold: async (req) => {
          made.resolve({ caller: req.conn.caller!, remote: req.conn.remote });
          await release.promise;
          return EMPTY_BYTES;
        },
      },
      { logger },
    );
    cleanup.push(() => s.server.close());
    const client = await s.connect({ keepaliveMs: 0, serve: createRouter({ 'peer.echo': (r) => r.msg }) });
    cleanup.push(() => client.destroy());
    expect(new TextDecoder().decode((await client.call('badOptions')).msg)).toBe('answered');
    const held = client.call('hold');
    const { caller, remote } = await made.promise;
    // The server closing: its connection drains, and takes no new reverse call.
    const closing = s.server.close();
    expect(() => caller.send('peer.echo', EMPTY_BYTES, {}, bug)).not.toThrow();
    release.resolve();
    await held;
    await closing;
    expect(() => caller.send('peer.echo', EMPTY_BYTES, {}, bug)).not.toThrow();
    expect(told).toMatchObject([{ code: ErrorCode.InvalidArgument }, { code: ErrorCode.Closed }, { code: ErrorCode.IO, retry: 'safe' }]);
    const line = { level: 'error', msg: "a reverse call's callback threw", obj: expect.objectContaining({ action: 'peer.echo', remote, err: expect.objectContaining({ message: 'a bug in the callback' }) }) };
    expect(logger.lines.filter((l) => l.level === 'error')).toEqual([line, line, line]);
  });
});
