import { ErrorCode, RpcError } from '@skein/core';
import { waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createRouter, type Caller } from '../src/index.js';
import { olderClientTransport, startServer } from './harness.js';
import { REVERSE_CONTROL_KIND } from '../src/wire/reverse-control.js';
import type { ReverseCaller } from '../src/server/reverse-caller.js';

const cleanup = cleanups();

const WINDOW = 4;
const utf8 = new TextEncoder();

/** A call's outcome: its reply's text, or its error. */
const outcome = (c: Caller, action: string, opts: { timeoutMs?: number; signal?: AbortSignal } = {}) =>
  new Promise<string | RpcError>((resolve) => c.send(action, utf8.encode('hi'), opts, (err, reply) => resolve(err ? (err as RpcError) : new TextDecoder().decode(reply!.msg))));

/** A handler that never answers and ignores its signal: a stuck (or hostile) peer's. */
const never = () => new Promise<never>(() => {});

/**
 * The ReverseCaller's peers below are older Skein clients, which read no reverse cancels: there a
 * call given up on keeps its slot until answered (one that reads them frees it at once:
 * reverse-call-control.test.ts).
 */
const older = olderClientTransport(REVERSE_CONTROL_KIND);

describe('window slots held by calls their callers gave up on', () => {
  it('ClientStream: a call that timed out or was cancelled on the wire frees its slot at once, whatever the server does', async () => {
    let stuck = 0;
    const s = await startServer({ stuck: () => (stuck++, never()), echo: (req) => req.msg });
    cleanup.push(() => s.server.close());
    // Plain calls (no head): the server tracks none of them, so it never answers or stops them.
    const stream = await s.connect({ window: WINDOW, timeoutMs: 50, keepaliveMs: 0 });
    cleanup.push(() => stream.destroy());
    await stream.ping();
    const timedOut = await Promise.all(Array.from({ length: WINDOW }, () => outcome(stream, 'stuck')));
    expect(timedOut.every((e) => e instanceof RpcError && e.code === ErrorCode.Timeout && e.retry !== 'safe')).toBe(true);
    const ac = new AbortController();
    const cancelledCalls = Array.from({ length: WINDOW }, () => outcome(stream, 'stuck', { signal: ac.signal }));
    await waitFor(() => stuck === 2 * WINDOW);
    ac.abort();
    expect((await Promise.all(cancelledCalls)).every((e) => e instanceof RpcError && e.code === ErrorCode.Cancelled)).toBe(true);
    // 2 × window calls still run on the server, unanswered; the window is free all the same.
    expect(stream.inFlight).toBe(0);
    expect(await outcome(stream, 'echo')).toBe('hi');
  });

  it('ReverseCaller: a peer that answers none of a full window of given-up calls loses its connection, with a clear error, instead of stalling every later call', async () => {
    let hung = 0;
    // The stall must last the reverse calls' default timeout too: short here.
    const s = await startServer({}, { reverseCalls: { timeoutMs: 200 } });
    cleanup.push(() => s.server.close());
    const peer = await s.connect({ transport: older, keepaliveMs: 0, serveWindow: WINDOW, serve: createRouter({ hang: () => (hung++, never()), echo: (req) => req.msg }) });
    cleanup.push(() => peer.destroy());
    await peer.ping();
    const caller = s.server.openConnections()[0]!.caller!;
    // Half the window times out, half is cancelled: every slot is held by a call nobody waits for.
    const timedOut = Array.from({ length: WINDOW / 2 }, () => outcome(caller, 'hang', { timeoutMs: 30 }));
    const ac = new AbortController();
    const cancelledCalls = Array.from({ length: WINDOW / 2 }, () => outcome(caller, 'hang', { signal: ac.signal }));
    await waitFor(() => hung === WINDOW);
    ac.abort();
    const given = await Promise.all([...timedOut, ...cancelledCalls]);
    expect(given.map((e) => (e as RpcError).code)).toEqual([ErrorCode.Timeout, ErrorCode.Timeout, ErrorCode.Cancelled, ErrorCode.Cancelled]);
    // The connection still answers pings: only the reverse calls are stuck.
    await peer.ping();
    // A later call waits for a slot that never frees. It must not time out "never sent" (and the
    // next one after it, forever): the connection is closed, and the call learns why.
    const later = await outcome(caller, 'echo', { timeoutMs: 300 });
    expect(later).toBeInstanceOf(RpcError);
    expect(later).toMatchObject({ code: ErrorCode.IO, retry: 'safe' });
    expect((later as RpcError).message).toMatch(/answered none of the 4 reverse calls/);
    // The peer's side is closed too (a pool reconnects), and a new reverse call fails at once, unsent.
    await waitFor(() => peer.state === 'closed');
    expect(await outcome(caller, 'echo', { timeoutMs: 60_000 })).toMatchObject({ code: ErrorCode.IO, retry: 'safe' });
    expect(hung).toBe(WINDOW);
  });

  it('ReverseCaller: a peer that answers every call, slower than their short timeouts, keeps its connection (a stall is counted against the default timeout, not a call\'s)', async () => {
    const s = await startServer({}, {});
    cleanup.push(() => s.server.close());
    const peer = await s.connect({ transport: older, keepaliveMs: 0, serveWindow: 2, serve: createRouter({ slow: (req) => new Promise<Uint8Array>((r) => setTimeout(() => r(req.msg), 300)) }) });
    cleanup.push(() => peer.destroy());
    await peer.ping();
    const caller = s.server.openConnections()[0]!.caller!;
    // Two fill the window and time out; then a third waits for a slot past its own short timeout,
    // every slot held by a call given up on all that time.
    const first = await Promise.all([0, 1].map(() => outcome(caller, 'slow', { timeoutMs: 50 })));
    expect(first.map((e) => (e as RpcError).code)).toEqual([ErrorCode.Timeout, ErrorCode.Timeout]);
    const third = await outcome(caller, 'slow', { timeoutMs: 50 });
    expect(third).toMatchObject({ code: ErrorCode.Timeout });
    expect((third as RpcError).message).toMatch(/never sent/);
    // The peer answers (late): the slots free and the connection serves on.
    await waitFor(() => (caller as ReverseCaller).inFlight === 0);
    expect(await outcome(caller, 'slow', { timeoutMs: 5_000 })).toBe('hi');
    expect(peer.state).toBe('open');
  });

  it('ReverseCaller: a peer that answers late, within a waiting call\'s timeout, keeps its connection and runs the call', async () => {
    const release: (() => void)[] = [];
    const s = await startServer({}, { reverseCalls: { timeoutMs: 60_000 } });
    cleanup.push(() => s.server.close());
    const peer = await s.connect({
      transport: older,
      keepaliveMs: 0,
      serveWindow: WINDOW,
      serve: createRouter({ slow: (req) => new Promise<Uint8Array>((r) => release.push(() => r(req.msg))), echo: (req) => req.msg }),
    });
    cleanup.push(() => peer.destroy());
    await peer.ping();
    const caller = s.server.openConnections()[0]!.caller!;
    const given = await Promise.all(Array.from({ length: WINDOW }, () => outcome(caller, 'slow', { timeoutMs: 30 })));
    expect(given.every((e) => e instanceof RpcError && e.code === ErrorCode.Timeout)).toBe(true);
    const later = outcome(caller, 'echo', { timeoutMs: 60_000 });
    await waitFor(() => (caller as ReverseCaller).queued === 1);
    // One late answer frees one slot: the waiting call goes, on the same connection.
    release.shift()!();
    expect(await later).toBe('hi');
    expect(peer.state).toBe('open');
    for (const r of release.splice(0)) r();
  });
});
