import { ErrorCode, type RpcError } from '@skein/core';
import { waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { createRouter, type ActionHandler, type Caller } from '../src/index.js';
import { olderClientTransport, startServer, u32 } from './harness.js';
import { IN_FLIGHT_CAP_KIND } from '../src/wire/in-flight-cap.js';

/** An older Skein client (no hello kind 24): its window is not narrowed to the cap, so it sends past it. */
const olderClient = { transport: olderClientTransport(IN_FLIGHT_CAP_KIND) };

const cleanup = cleanups();

const text = (s: string) => new TextEncoder().encode(s);
const read = (b: Uint8Array) => new TextDecoder().decode(b);

/** A handler that waits at a gate the test opens; `entered` counts who got in. */
function gated() {
  const open: (() => void)[] = [];
  let entered = 0;
  const handler: ActionHandler = (req) =>
    new Promise<Uint8Array>((resolve) => {
      entered++;
      open.push(() => resolve(req.msg));
    });
  return { handler, open: () => open.splice(0).forEach((f) => f()), get entered() { return entered; }, get waiting() { return open.length; } };
}

describe('maxInFlightPerConn: what a server reads at the cap', () => {
  it('answers pings while the cap is full of long calls: a client whose window is the cap keeps its connection', async () => {
    const CAP = 4;
    const gate = gated();
    const s = await startServer({ hold: gate.handler }, { maxInFlightPerConn: CAP });
    cleanup.push(() => s.server.close());
    // Keepalive pings after 20 ms of silence, the connection dropped if one waits 200 ms.
    const client = await s.connect({ window: CAP, keepaliveMs: 20, keepaliveTimeoutMs: 200 });
    cleanup.push(() => client.destroy());
    const calls = Array.from({ length: CAP }, (_, i) => client.call('hold', u32(i)));
    await waitFor(() => gate.waiting === CAP);
    // Several pings in a row while every slot is taken: each is read and answered.
    for (let i = 0; i < 5; i++) await client.ping();
    expect(s.server.stats()).toMatchObject({ inFlight: CAP, paused: 0 });
    gate.open();
    expect((await Promise.all(calls)).length).toBe(CAP);
    expect(client.state).toBe('open');
  });

  it('holds a request sent past the cap (a window larger than it) until a slot frees, with its head', async () => {
    const gate = gated();
    const s = await startServer({ hold: gate.handler, meta: (req) => text(req.metadata.k ?? '(none)') }, { maxInFlightPerConn: 1 });
    cleanup.push(() => s.server.close());
    const client = await s.connect({ ...olderClient, window: 8, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const first = client.call('hold', u32(0));
    await waitFor(() => gate.waiting === 1);
    const later = ['a', 'b', 'c'].map((k) => client.call('meta', new Uint8Array(0), { metadata: { k } }).then((r) => read(r.msg)));
    await waitFor(() => s.server.stats().paused === 1);
    gate.open();
    await first;
    expect(await Promise.all(later)).toEqual(['a', 'b', 'c']);
    expect(gate.entered).toBe(1);
  });

  it('refuses, unrun, a held request when a reverse call goes out, and what comes past the cap while answers are awaited; never loses one', async () => {
    const first = gated();
    const second = gated();
    const peerGate = gated();
    const s = await startServer(
      {
        // Waits at a gate, calls back into the client (whose answer waits at its own gate), then waits at a second gate.
        relay: async (req) => {
          await first.handler(req);
          const caller = req.conn.caller as Caller;
          const back = await new Promise<Uint8Array>((resolve, reject) => caller.send('peer.hold', req.msg, {}, (err, r) => (err ? reject(err) : resolve(r!.msg))));
          await second.handler(req);
          return back;
        },
        meta: (req) => text(req.metadata.k ?? '(none)'),
      },
      { maxInFlightPerConn: 1 },
    );
    cleanup.push(() => s.server.close());
    const client = await s.connect({ ...olderClient, window: 8, keepaliveMs: 0, serve: createRouter({ 'peer.hold': peerGate.handler }) });
    cleanup.push(() => client.destroy());
    await client.ping();
    const outcome = (k: string) =>
      client.call('meta', new Uint8Array(0), { metadata: { k } }).then(
        (r) => read(r.msg),
        (err: RpcError) => ({ code: err.code, retry: err.retry }),
      );
    const relay = client.call('relay', u32(7));
    await waitFor(() => first.waiting === 1);
    // Past the cap with nothing awaiting answers: held, and the connection not read.
    const held = outcome('held');
    await waitFor(() => s.server.stats().paused === 1);
    // The relay's call back goes out: its answer must be read, so the held request gives up its place.
    first.open();
    expect(await held).toEqual({ code: ErrorCode.Overloaded, retry: 'safe' });
    await waitFor(() => peerGate.waiting === 1);
    // Read on for the answer; what comes past the cap meanwhile is refused, unrun.
    expect(await outcome('refused')).toEqual({ code: ErrorCode.Overloaded, retry: 'safe' });
    peerGate.open();
    await waitFor(() => second.waiting === 1);
    // Nothing awaited any more: past the cap is held again, with its head, until the relay ends.
    const later = outcome('later');
    await waitFor(() => s.server.stats().paused === 1);
    second.open();
    expect((await relay).msg).toEqual(u32(7));
    expect(await later).toBe('later');
  });

  it('tells a request held past the cap that it never ran when the server closes (Closed, safe to retry)', async () => {
    const gate = gated();
    const s = await startServer({ hold: gate.handler }, { maxInFlightPerConn: 1 });
    const client = await s.connect({ ...olderClient, window: 4, keepaliveMs: 0 });
    cleanup.push(() => client.destroy());
    const first = client.call('hold', u32(0));
    await waitFor(() => gate.waiting === 1);
    const held = client.call('hold', u32(1)).then(
      () => 'ran',
      (err: RpcError) => ({ code: err.code, retry: err.retry }),
    );
    await waitFor(() => s.server.stats().paused === 1);
    const closed = s.server.close();
    expect(await held).toEqual({ code: ErrorCode.Closed, retry: 'safe' });
    gate.open();
    expect((await first).msg).toEqual(u32(0));
    await closed;
    expect(gate.entered).toBe(1);
  });
});
