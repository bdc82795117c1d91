import { ErrorCode, type RpcError } from '@skein/core';
import { ManualClock, waitFor, within, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import type { ActionHandler } from '../src/index.js';
import { olderClientTransport, startServer, u32 } from './harness.js';
import { IN_FLIGHT_CAP_KIND } from '../src/wire/in-flight-cap.js';

/*
 * A request a server holds past its cap (`maxInFlightPerConn`: it waits, unread past, until a
 * slot frees) arrived when it was read: its deadline counts from then (docs/protocol.md, "Call
 * head": the request's arrival plus `remaining_ms`), not from when a slot freed for it. The
 * server's clock is a manual one here: the time a request waits held is exactly what the test
 * advances, and nothing else moves the server's deadlines.
 */

const cleanup = cleanups();
const text = new TextEncoder();

/** `hold` waits at a gate the test opens; `left` answers with the ms its deadline leaves it, and counts its runs. */
function handlers() {
  const open: (() => void)[] = [];
  let leftRuns = 0;
  const table: Record<string, ActionHandler> = {
    hold: (req) => new Promise<Uint8Array>((resolve) => open.push(() => resolve(req.msg))),
    left: (req) => {
      leftRuns++;
      return text.encode(String(req.remainingMs() ?? 'none'));
    },
  };
  return { table, open: () => open.splice(0).forEach((f) => f()), get waiting() { return open.length; }, get leftRuns() { return leftRuns; } };
}

/** A server whose cap is one call, on `clock`, with nothing else on that clock that could end the connection. */
async function cappedServer(clock: ManualClock) {
  const h = handlers();
  const s = await startServer(h.table, { maxInFlightPerConn: 1, clock, keepaliveMs: 0, idleTimeoutMs: 0, readTimeoutMs: 0, closeWaitMs: 0 });
  cleanup.push(() => s.server.close());
  // A window past the cap, of an older Skein client (no hello kind 24: not narrowed): it sends what the server then holds.
  const client = await s.connect({ transport: olderClientTransport(IN_FLIGHT_CAP_KIND), window: 8, keepaliveMs: 0 });
  cleanup.push(() => client.destroy());
  const first = client.call('hold', u32(0));
  await waitFor(() => h.waiting === 1, { what: 'the first call to take the one slot' });
  return { h, s, client, first };
}

describe('a request held past the server cap', () => {
  it('runs with what is left of its deadline counted from its arrival, not from when a slot freed', async () => {
    const clock = new ManualClock();
    const { h, s, client, first } = await cappedServer(clock);
    const later = client.call('left', undefined, { timeoutMs: 60_000 });
    await waitFor(() => s.server.stats().paused === 1, { what: 'the later call to be held' });
    // 30 s of its 60 pass on the server's clock while it waits for the slot.
    clock.advance(30_000);
    h.open();
    await within(first, 10_000, 'the first call');
    const left = Number(new TextDecoder().decode((await within(later, 10_000, 'the held call')).msg));
    expect(h.leftRuns).toBe(1);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(30_000);
  });

  it('whose deadline passed while it was held is answered Timeout, its handler never run', async () => {
    const clock = new ManualClock();
    const { h, s, client, first } = await cappedServer(clock);
    const later = client.call('left', undefined, { timeoutMs: 60_000 }).catch((e: RpcError) => e);
    await waitFor(() => s.server.stats().paused === 1, { what: 'the later call to be held' });
    // Past its whole 60 s on the server's clock (its client, on its own clock, still waits).
    clock.advance(70_000);
    h.open();
    await within(first, 10_000, 'the first call');
    const err = await within(later, 10_000, 'the held call');
    expect(err).toMatchObject({ code: ErrorCode.Timeout });
    expect(h.leftRuns).toBe(0);
    // The connection goes on: the slot the refused call never took serves the next one.
    const next = await within(client.call('left'), 10_000, 'a call after');
    expect(new TextDecoder().decode(next.msg)).toBe('none');
    expect(h.leftRuns).toBe(1);
  });
});
