import { ErrorCode, RpcError } from '@skein/core';
import { freePort, ManualClock, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ClientStream, ConnPool, type CallOptions } from '../src/index.js';
import { startServer, transport } from './harness.js';

const cleanup = cleanups();

const none = new Uint8Array(0);
/** How late a timeout of `ms` may fire: the documented resolution. */
const slack = (ms: number): number => Math.max(0.1 * ms, 50);

interface Fired {
  asked: number;
  /** Clock time from the send to the failure, minus the timeout asked for. */
  late: number;
  code: number | undefined;
}

/** A stream on a ManualClock to a server that never answers. */
async function hungClient(clock: ManualClock, opts: { window?: number; tickMs?: number } = {}): Promise<ClientStream> {
  const s = await startServer({ hang: () => new Promise(() => {}) }, { closeWaitMs: 50 });
  cleanup.push(() => s.server.close());
  const client = await s.connect({ clock, keepaliveMs: 0, ...opts });
  cleanup.push(() => client.destroy());
  // The hello answered first: a call with a timeout of its own waits for it (its deadline goes
  // with a head), and the manual clock below runs without letting the answer in.
  await client.ping();
  return client;
}

/** Sends with `timeoutMs` (undefined: the default of 20 s) and records when and how it fails. */
function sender(carrier: { send: ClientStream['send'] }, clock: ManualClock, fired: Fired[]) {
  return (timeoutMs?: number, opts: CallOptions = {}): void => {
    const at = clock.time;
    const asked = timeoutMs ?? 20_000;
    carrier.send('hang', none, timeoutMs === undefined ? opts : { ...opts, timeoutMs }, (err) =>
      fired.push({ asked, late: clock.time - at - asked, code: (err as RpcError | null)?.code }),
    );
  };
}

/** A hung stream on its own ManualClock, and a `send` that records each failure in `fired`. */
async function recorded(opts: { window?: number; tickMs?: number } = {}) {
  const clock = new ManualClock();
  const client = await hungClient(clock, opts);
  const fired: Fired[] = [];
  return { clock, client, fired, send: sender(client, clock, fired) };
}

/** Moves the clock 1 ms at a time until `n` calls have failed (or `limit` ms passed). */
function runUntil(clock: ManualClock, fired: Fired[], n: number, limit = 60_000): void {
  for (const end = clock.time + limit; fired.length < n && clock.time < end; ) clock.advance(1);
}

function expectWithinResolution(fired: Fired[]): void {
  for (const f of fired) {
    expect(f.code, `a ${f.asked} ms call`).toBe(ErrorCode.Timeout);
    expect(f.late, `a ${f.asked} ms call fired ${f.late} ms late`).toBeGreaterThanOrEqual(0);
    expect(f.late, `a ${f.asked} ms call fired ${f.late} ms late`).toBeLessThanOrEqual(slack(f.asked));
  }
}

describe('timeout resolution of a stream', () => {
  it('fires 60 ms, 500 ms, 2.5 s and 20 s timeouts, mixed and out of step with the ticks, within max(10 %, 50 ms) after their time', async () => {
    const { clock, client, fired, send } = await recorded();
    send(); // the default 20 s, while the ticker still runs at 1 s
    clock.advance(337);
    send(60);
    send(500);
    send(2500);
    for (let i = 0; i < 8; i++) {
      clock.advance(13 + i * 71);
      send(60);
      send(500);
      send(20_000);
      send(7_000);
    }
    runUntil(clock, fired, 36);
    expect(fired).toHaveLength(36);
    expectWithinResolution(fired);
    expect(client.inFlight).toBe(0);
  });

  it('ticks faster only while a short timeout is pending, then slows down to tickMs again', async () => {
    const { clock, fired, send } = await recorded();
    const stream = () => clock.periods; // the stream's ticker is the only one on this clock
    expect(stream()).toEqual([1000]);
    send(300);
    expect(stream()).toEqual([25]);
    send(5000); // needs 200 ms ticks; the 300 ms call still needs 25
    runUntil(clock, fired, 1);
    clock.advance(1100); // a tickMs after the last 25 ms deadline: only the 5 s call is left
    expect(stream()).toEqual([200]);
    runUntil(clock, fired, 2);
    clock.advance(1500);
    expect(stream()).toEqual([1000]);
    expectWithinResolution(fired);
  });

  it('counts a stall as one tick at most when a short call speeds the ticker up: ticks, not the clock, decide', async () => {
    const clock = new ManualClock();
    const client = await hungClient(clock);
    const outcomes: [number, RpcError | null][] = [];
    client.send('hang', none, {}, (err) => outcomes.push([20_000, err as RpcError])); // due 21 s of ticks on
    clock.stall(50_000); // the 1 s ticker is held back by a long synchronous burst
    client.send('hang', none, { timeoutMs: 100 }, (err) => outcomes.push([100, err as RpcError]));
    // Speeding up counted the one period a late tick would have: the 20 s call is not due, its
    // reply may be waiting in the socket. The 100 ms call is due one 25 ms period past its timeout.
    for (let t = 0; t < 4; t++) clock.fireAll();
    expect(outcomes).toEqual([]);
    clock.fireAll();
    expect(outcomes).toEqual([[100, expect.objectContaining({ code: ErrorCode.Timeout })]]);
    expect(client.inFlight).toBe(1);
  });

  it('times out calls waiting for the window at the same resolution, as never sent', async () => {
    const { clock, client, fired, send } = await recorded({ window: 1 });
    send(); // holds the window
    clock.advance(411);
    send(60);
    send(800);
    send(3000);
    runUntil(clock, fired, 3);
    expectWithinResolution(fired);
    expect(client.queued).toBe(0);
  });

  it('with a tickMs under 25 ms, ticks at tickMs and still never fires early', async () => {
    const { clock, client, fired, send } = await recorded({ tickMs: 10 });
    clock.advance(3);
    send(30);
    send(1000);
    runUntil(clock, fired, 2);
    expectWithinResolution(fired);
    expect(clock.periods).toEqual([10]);
  });
});

describe('timeout resolution of calls waiting for a connection', () => {
  it('fires 60 ms, 500 ms and 3 s timeouts of waiting calls within max(10 %, 50 ms) after their time', async () => {
    const clock = new ManualClock();
    const address = `127.0.0.1:${await freePort()}`; // nobody listens
    const pool = new ConnPool({ transport, address, clock, connectBudgetMs: 600_000, backoff: { initialMs: 100_000, maxMs: 100_000 } });
    cleanup.push(() => pool.destroy());
    const fired: Fired[] = [];
    const send = sender(pool, clock, fired);
    clock.advance(123);
    send(60);
    send(500);
    clock.advance(29);
    send(3000);
    send(60);
    runUntil(clock, fired, 4);
    expect(fired).toHaveLength(4);
    expectWithinResolution(fired);
    expect(pool.queued).toBe(0);
  });
});

describe('a call\'s own timeoutMs', () => {
  it('must be a positive number: anything else fails the call with InvalidArgument, on a stream and on a pool', async () => {
    const clock = new ManualClock();
    const client = await hungClient(clock);
    const pool = new ConnPool({ transport, address: `127.0.0.1:${await freePort()}`, clock, connectBudgetMs: 60_000 });
    cleanup.push(() => pool.destroy());
    for (const timeoutMs of [0, -5, NaN, Infinity, '100' as never]) {
      for (const carrier of [client, pool]) {
        const err = await carrier.call('hang', none, { timeoutMs }).catch((e) => e);
        expect(err).toMatchObject({ code: ErrorCode.InvalidArgument, message: expect.stringMatching(/timeoutMs must be a positive number/) });
      }
    }
    expect(client.inFlight + client.queued + pool.queued).toBe(0);
  });
});
