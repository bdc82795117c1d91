import { ErrorCode } from '@skein/core';
import { cleanups, heldHandler, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { olderClientTransport, startServer } from './harness.js';
import { IN_FLIGHT_CAP_KIND } from '../src/wire/in-flight-cap.js';

/*
 * One slow party never stalls the others: a handler that never answers holds its own window slot
 * and nothing else (README "ClientStream": `window` calls in flight, the rest wait in order; a
 * call cancelled on the wire frees its slot at once; "RpcServer": responses leave in completion
 * order). What decides is the order of events: the other calls finish while the stuck handlers
 * still run.
 */

const cleanup = cleanups();

/** Long enough never to fire here: the stuck calls stay stuck for the whole test. */
const LONG = { timeoutMs: 60_000 };
/** The quick calls' bound: a quick call held behind a stuck one fails with Timeout instead of hanging the test. */
const QUICK = { timeoutMs: 10_000 };

async function setup(serverOpts = {}) {
  const stuck = heldHandler();
  const s = await startServer({ stuck: (req) => stuck.run(req.msg), echo: (req) => req.msg }, { closeWaitMs: 0, ...serverOpts });
  cleanup.push(() => (stuck.endAll(), s.server.close()));
  return { stuck, s };
}

const echoes = (call: (i: number) => Promise<{ msg: Uint8Array }>, n: number): Promise<number[]> =>
  Promise.all(Array.from({ length: n }, (_, i) => call(i).then((r) => r.msg[0]!)));
const upTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i & 0xff);

describe('a handler that never answers', () => {
  it('holds only its own window slot: with window - 1 stuck, calls on the same connection flow through the slot left', async () => {
    const { stuck, s } = await setup();
    const client = await s.connect({ window: 4 });
    cleanup.push(() => client.destroy());
    const held = Array.from({ length: 3 }, () => client.call('stuck', new Uint8Array([9]), LONG));
    held.forEach((p) => void p.catch(() => undefined));
    await waitFor(() => stuck.running === 3 || undefined, { what: 'three stuck handlers running' });

    expect(await echoes((i) => client.call('echo', new Uint8Array([i & 0xff]), QUICK), 100)).toEqual(upTo(100));
    expect(stuck.running).toBe(3);
  });

  it('with the window full of stuck calls, a cancelled one frees its slot at once: the call waiting behind it goes while every stuck handler still runs', async () => {
    const { stuck, s } = await setup();
    const client = await s.connect({ window: 4 });
    cleanup.push(() => client.destroy());
    const cancel = new AbortController();
    const held = [client.call('stuck', new Uint8Array([9]), { ...LONG, signal: cancel.signal }), ...Array.from({ length: 3 }, () => client.call('stuck', new Uint8Array([9]), LONG))];
    held.forEach((p) => void p.catch(() => undefined));
    await waitFor(() => stuck.running === 4 || undefined, { what: 'four stuck handlers running' });

    const waiting = client.call('echo', new Uint8Array([5]), QUICK);
    cancel.abort();
    expect((await waiting).msg[0]).toBe(5);
    // The cancelled call's handler ignores its signal, as a stuck one would: it still runs, and it did not hold the slot.
    expect(stuck.running).toBe(4);
    await expect(held[0]).rejects.toMatchObject({ code: ErrorCode.Cancelled });
  });

  it("holds only its own connection: a client whose handlers fill its maxInFlightPerConn is paused alone, another client's calls flow", async () => {
    const { stuck, s } = await setup({ maxInFlightPerConn: 8 });
    // An older Skein client (no hello kind 24): its window is not narrowed to the cap, so the server pauses it.
    const greedy = await s.connect({ transport: olderClientTransport(IN_FLIGHT_CAP_KIND), window: 64 });
    cleanup.push(() => greedy.destroy());
    // The stuck calls come with a head (their own timeoutMs), so the first past the cap is held and reading stops.
    const held = Array.from({ length: 32 }, () => greedy.call('stuck', new Uint8Array([9]), LONG));
    held.forEach((p) => void p.catch(() => undefined));
    await waitFor(() => (stuck.running === 8 && s.server.stats().paused === 1) || undefined, { what: 'the greedy connection at its cap, paused' });

    const other = await s.connect();
    cleanup.push(() => other.destroy());
    expect(await echoes((i) => other.call('echo', new Uint8Array([i & 0xff]), QUICK), 100)).toEqual(upTo(100));
    expect(stuck.running).toBe(8);
    expect(s.server.stats().paused).toBe(1);
  });
});
