import type { RpcError } from '@skein/core';
import { cleanups, heldHandler, rawConnect, sleep, waitFor, type HeldHandler } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, ConnPool } from '../src/index.js';
import { IN_FLIGHT_CAP_KIND, readInFlightCap } from '../src/wire/in-flight-cap.js';
import { golden } from './golden.js';
import { olderClientTransport, recordingTransport, startServer, transport, u32 } from './harness.js';

/*
 * The server's in-flight cap in the hello (docs/protocol.md, "The hello", kind 24). A client whose
 * window was over the server's `maxInFlightPerConn` lost its whole connection behind slow calls:
 * the server held the request past the cap and stopped reading the connection, the client's
 * keepalive ping went unread, and the client dropped it (every call IO, "may have run").
 */

const cleanup = cleanups();
const CAP = 8;
/** Pings after 50 ms of silence, the connection dropped when one waits 300 ms: "several keepalive periods" is a second. */
const FAST_KEEPALIVE = { keepaliveMs: 50, keepaliveTimeoutMs: 300, tickMs: 20 };
const BOUND = { timeoutMs: 10_000 };

/** A server of cap CAP whose `slow` calls wait in `held` (and `first` in `first`), and `echo`; `seen` is what each got, in order. */
async function capServer(held: HeldHandler, first: HeldHandler = heldHandler()) {
  const seen: (number | string)[] = [];
  const s = await startServer(
    {
      slow: (req) => (seen.push(req.msg[0]!), held.run(req.msg)),
      first: (req) => first.run(req.msg),
      echo: (req) => (seen.push('echo'), req.msg),
    },
    { maxInFlightPerConn: CAP, closeWaitMs: 0 },
  );
  cleanup.push(() => s.server.close());
  return { ...s, seen };
}

const failed = (p: Promise<unknown>) => p.then(() => undefined, (err: RpcError) => err);

describe('hello kind 24: the client keeps its window within the server cap', () => {
  it('the audit reproduction: a window of 16 on a server of cap 8 under 8 slow calls keeps its connection; the next call goes when a slot frees', async () => {
    const held = heldHandler();
    const first = heldHandler();
    const s = await capServer(held, first);
    const c = await s.connect({ window: 16, ...FAST_KEEPALIVE });
    cleanup.push(() => c.destroy());
    const slow = [c.call('first', u32(0), { timeoutMs: 30_000 }), ...Array.from({ length: CAP - 1 }, (_, i) => c.call('slow', u32(i + 1), { timeoutMs: 30_000 }))];
    const slowFailures = slow.map(failed);
    await waitFor(() => held.running + first.running === CAP || undefined, { ...BOUND, what: 'the slow calls running' });
    const echo = c.call('echo', new Uint8Array([1]), { timeoutMs: 30_000 });
    const echoFailure = failed(echo);
    // Several keepalive timeouts: on the old code the connection was dropped here, every call IO.
    await sleep(1_000);
    expect(c.state).toBe('open');
    // The echo waits on the client, not held on the server: the server reads on (the pings among it).
    expect(c.window).toBe(CAP);
    expect(c.queued).toBe(1);
    expect(s.server.stats()).toMatchObject({ inFlight: CAP, paused: 0 });
    // One slot frees: the echo is answered while the other seven still run.
    first.endAll();
    expect((await echo).msg).toEqual(new Uint8Array([1]));
    expect(held.running).toBe(CAP - 1);
    held.endAll();
    expect(await Promise.all(slowFailures)).toEqual(Array(CAP).fill(undefined));
    expect(await echoFailure).toBeUndefined();
    expect(c.state).toBe('open');
  });

  it('calls held for the hello answer (they carry a deadline) past the cap wait in the window, first in line, not on the server', async () => {
    const held = heldHandler();
    const s = await capServer(held);
    const c = await s.connect({ window: 16, ...FAST_KEEPALIVE });
    cleanup.push(() => c.destroy());
    // Made before the answer came: each is held for it, all 12 within the client's own window.
    const slow = Array.from({ length: CAP + 4 }, (_, i) => c.call('slow', u32(i), { timeoutMs: 30_000 }));
    const slowFailures = slow.map(failed);
    await waitFor(() => held.running === CAP || undefined, { ...BOUND, what: 'the slow calls running' });
    const echo = c.call('echo', new Uint8Array([2]), { timeoutMs: 30_000 });
    await sleep(1_000);
    expect(c.state).toBe('open');
    expect(c.inFlight).toBe(CAP);
    expect(c.queued).toBe(5);
    expect(s.server.stats()).toMatchObject({ inFlight: CAP, paused: 0 });
    held.endAll();
    expect((await echo).msg).toEqual(new Uint8Array([2]));
    await waitFor(() => held.running === 4 || undefined, { ...BOUND, what: 'the four held past the cap running' });
    held.endAll();
    expect(await Promise.all(slowFailures)).toEqual(Array(CAP + 4).fill(undefined));
    // The held calls went before the echo, which came after them.
    expect(s.seen).toEqual([...Array.from({ length: CAP + 4 }, (_, i) => i), 'echo']);
    expect(c.state).toBe('open');
  });

  it('a ConnPool sees the narrowed window (its `window` getter): the call past the cap opens another connection instead of waiting on the first', async () => {
    const held = heldHandler();
    const s = await capServer(held);
    const p = new ConnPool({ transport, address: s.address, maxConnections: 2, stream: { window: 16, ...FAST_KEEPALIVE } });
    cleanup.push(() => p.destroy());
    // The first connection up, its hello answered: its window is the cap.
    await p.call('echo', new Uint8Array([5]));
    const slow = Array.from({ length: CAP + 1 }, (_, i) => p.call('slow', u32(i), { timeoutMs: 30_000 }));
    const slowFailures = slow.map(failed);
    // All nine run: eight on the first connection, the ninth on a second (with the window unnarrowed, it was held behind the eight).
    await waitFor(() => held.running === CAP + 1 || undefined, { ...BOUND, what: 'nine slow calls running on two connections' });
    expect(p.stats()).toMatchObject({ connections: 2, inFlight: CAP + 1, queued: 0 });
    held.endAll();
    expect(await Promise.all(slowFailures)).toEqual(Array(CAP + 1).fill(undefined));
  });

  it('on the wire: the client offers kind 24 empty; the server answers max_in_flight u32, its connection kind cap', async () => {
    const rec = recordingTransport();
    const s = await capServer(heldHandler());
    const c = await ClientStream.connect({ transport: rec.transport, address: s.address });
    cleanup.push(() => c.destroy());
    await c.call('echo', new Uint8Array([3]));
    expect(rec.writes[0]).toEqual(golden.helloRequestFull);
    const raw = await rawConnect(s.address);
    cleanup.push(() => raw.destroy());
    raw.write(golden.helloRequestCap);
    await waitFor(() => raw.received().length >= golden.helloAnswerCap8.length || undefined, { ...BOUND, what: 'the hello answer' });
    expect(raw.received()).toEqual(Buffer.from(golden.helloAnswerCap8));
  });

  it('an older Skein client (no kind 24 offered) gets no entry and keeps its window, as before', async () => {
    const s = await capServer(heldHandler());
    const c = await ClientStream.connect({ transport: olderClientTransport(IN_FLIGHT_CAP_KIND), address: s.address, window: 16 });
    cleanup.push(() => c.destroy());
    await c.call('echo', new Uint8Array([4]));
    expect(c.hello.dialect).toBe('agreed');
    expect(c.hello.accepted).not.toContain(IN_FLIGHT_CAP_KIND);
    expect(c.window).toBe(16);
    // A razor-style request of limits alone: the answer is limits alone.
    const raw = await rawConnect(s.address);
    cleanup.push(() => raw.destroy());
    raw.write(golden.helloRequest);
    await waitFor(() => raw.received().length >= golden.helloAnswer.length || undefined, { ...BOUND, what: 'the hello answer' });
    expect(raw.received()).toEqual(Buffer.from(golden.helloAnswer));
  });

  it('a cap of 0 (a broken server) is read as 1: a window that sends nothing would hold every call to its timeout', () => {
    expect(readInFlightCap(u32(0))).toBe(1);
    expect(readInFlightCap(u32(8))).toBe(8);
  });
});
