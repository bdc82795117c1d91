import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, deferred, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { ConnPool, FailoverPool, type ClientStream, type ServerRequest } from '../src/index.js';
import { readErrorBytes } from '../src/wire/error-strings.js';
import { saysNoStreamRoom, streamRoomDetail } from '../src/wire/stream-room.js';
import { startServer, transport, u32 } from './harness.js';
import { ran } from './stream-outcome.js';

/*
 * The sign of a stream refused for room (Overloaded, `no room for another stream on this
 * connection (stream budget)`) is the server's own: a handler that passes a downstream's refusal
 * on (`req.fail(err.code, err.message)`) may have done its work first, so its answer must not read
 * as "never ran", nor be opened or called again for free. What decides each test is how many
 * times a handler ran and what the client was told; no time.
 */

const cleanup = cleanups();

const WINDOW = 16 * 1024;
const SIGN = streamRoomDetail('stream budget');

/**
 * Server D, its budget of one window full (a stream held open on `toD`), and server A whose raw
 * handler `passOn` (run as a call or as a stream) opens a stream to D on `toD`, is refused for
 * room, and passes D's refusal on as it got it.
 */
async function passingOn() {
  const gate = deferred();
  const d = await startServer(
    {
      hold: async (req) => {
        await req.stream!.write(u32(1));
        await gate.promise;
        for await (const _ of req.stream!);
      },
    },
    { closeWaitMs: 0, streamWindowBytes: WINDOW, streamBudgetBytes: WINDOW },
  );
  cleanup.push(() => (gate.resolve(), d.server.close()));
  const toD: ClientStream = await d.connect({ keepaliveMs: 0 });
  cleanup.push(() => toD.destroy());
  expect(await ran(toD.openStream('hold'))).toBe('ran');
  const runs = { call: 0, stream: 0 };
  const downstream: RpcError[] = [];
  const a = await startServer(
    {
      passOn: async (req: ServerRequest) => {
        if (req.stream) runs.stream++;
        else runs.call++;
        const got = await ran(toD.openStream('hold'));
        const err = got as RpcError;
        downstream.push(err);
        req.fail(err.code, err.message);
      },
    },
    { closeWaitMs: 0 },
  );
  cleanup.push(() => a.server.close());
  return { address: a.address, runs, downstream };
}

/** D's own refusal reached A's handler with the sign, and what A sent on is no longer it. */
function passedOn(err: unknown, downstream: RpcError[]): void {
  expect(downstream.every((e) => e.code === ErrorCode.Overloaded && e.message === SIGN && e.retry === 'safe')).toBe(true);
  expect(err).toBeInstanceOf(RpcError);
  const e = err as RpcError;
  expect(e.code).toBe(ErrorCode.Overloaded);
  expect(e.retry).not.toBe('safe');
  // A FailoverPool adds its own words after (`(the call may have executed on …)`).
  expect(e.message.startsWith(`passed on: ${SIGN}`)).toBe(true);
}

describe("a handler that passes a downstream's refusal for room on", () => {
  it('through a FailoverPool with retries: its call and its stream each run once, not safe to retry', async () => {
    const { address, runs, downstream } = await passingOn();
    const pool = new FailoverPool({ transport, servers: [address], retries: 2, pool: { maxConnections: 2 } });
    cleanup.push(() => within(pool.close(), 10_000, 'pool close'));
    const callErr = await pool.call('passOn', new Uint8Array()).catch((e: unknown) => e);
    expect(runs.call).toBe(1);
    passedOn(callErr, downstream);
    const streamErr = await ran(pool.openStream('passOn'));
    expect(runs.stream).toBe(1);
    passedOn(streamErr, downstream);
  });

  it('through a ConnPool: its call and its stream each run once, not safe to retry', async () => {
    const { address, runs, downstream } = await passingOn();
    const pool = new ConnPool({ transport, address, maxConnections: 2 });
    cleanup.push(() => pool.close());
    const callErr = await pool.call('passOn', new Uint8Array()).catch((e: unknown) => e);
    expect(runs.call).toBe(1);
    passedOn(callErr, downstream);
    const streamErr = await ran(pool.openStream('passOn'));
    expect(runs.stream).toBe(1);
    passedOn(streamErr, downstream);
  });
});

describe('the sign read on a stream opening alone, and exactly', () => {
  const wire = (detail: string) => new TextEncoder().encode(`rpc_overloaded:${detail}`);

  it("a call's (or reverse call's) answer with the exact sign reads as any detailed Overloaded: may have run", () => {
    for (const cap of ['stream budget', 'open streams'] as const) {
      const e = readErrorBytes(wire(streamRoomDetail(cap))) as RpcError;
      expect(e.code).toBe(ErrorCode.Overloaded);
      expect(e.retry).toBe('idempotent');
    }
  });

  it('only the two exact details are the sign, not words that begin with one', () => {
    expect(saysNoStreamRoom(streamRoomDetail('stream budget'))).toBe(true);
    expect(saysNoStreamRoom(streamRoomDetail('open streams'))).toBe(true);
    expect(saysNoStreamRoom(`${SIGN} (after 2 attempts)`)).toBe(false);
    expect(saysNoStreamRoom('no room for another stream on this connection (')).toBe(false);
  });
});
