import { msgpackCodec } from '@skein/codec-msgpack';
import { silentLogger } from '@skein/core';
import { createClient, createServiceDispatch, implement } from '@skein/api';
import type { Dispatch } from '@skein/stream';
import { cleanups, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import waitsOptions, { Greeter, Waits } from './fixtures/filter-waits.mjs';
import { serve, startPool } from './harness.js';

// A worker handler's call back through `ctx.caller`, given no timeout, behind a client filter
// whose `before` never settles: @skein/api bounds that wait by the carrier's default
// (`Caller.timeoutMs`). In process the connection's caller is the server's reverse caller, whose
// default is `reverseCalls.timeoutMs`; a worker's caller reports the same one, sent with the
// connection, so the call ends alike: Timeout at that default, never sent. (It had none: the
// wait, and the handler, held for ever.) The test waits on the answer; `within` guards a hang.

const codec = msgpackCodec;
const MODULE = new URL('./fixtures/filter-waits.mjs', import.meta.url);
const DEFAULT_MS = 250;
const GUARD_MS = 15_000;
const cleanup = cleanups();

/** The client's side: `Greeter`, counting the greetings it was sent. */
function peer() {
  let greeted = 0;
  const dispatch = createServiceDispatch({ codec, logger: silentLogger, services: [implement(Greeter, { greet: (name) => (greeted++, `hello ${name}`) })] });
  return { dispatch, greeted: () => greeted };
}

async function backCall(dispatch: Dispatch) {
  const p = peer();
  const s = await serve(dispatch, { reverseCalls: { timeoutMs: DEFAULT_MS } }, { serve: p.dispatch });
  cleanup.push(() => s.close());
  // Calls both ways are agreed in the hello: a round trip first.
  await s.stream.ping();
  const waits = createClient(Waits, s.stream, { codec });
  const r = await within(waits.greetBehindFilter('x', { timeoutMs: 60_000 }), GUARD_MS, 'the handler');
  return { r, greeted: p.greeted() };
}

const never = { code: 'Timeout', retry: 'safe', message: `Greeter.greet: timed out after ${DEFAULT_MS} ms while a client filter awaited; never sent` };

describe("a client filter's wait, in a handler's call back given no timeout", () => {
  it("in process: ends at the server's reverseCalls.timeoutMs, never sent", async () => {
    expect(await backCall(createServiceDispatch({ ...waitsOptions, codec }))).toEqual({ r: never, greeted: 0 });
  });

  it('in a worker: ends at the same default, which the worker caller reports', async () => {
    const pool = await startPool({ module: MODULE, workers: 1 });
    cleanup.push(() => pool.destroy());
    expect(await backCall(pool)).toEqual({ r: never, greeted: 0 });
  });
});
