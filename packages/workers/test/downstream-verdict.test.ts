import { msgpackCodec } from '@skein/codec-msgpack';
import { invalidArgument, silentLogger } from '@skein/core';
import { createClient, createServiceDispatch, implement } from '@skein/api';
import type { Dispatch } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import relayOptions, { Asker, Relay } from './fixtures/passes-on.mjs';
import { outcome, serve, startPool } from './harness.js';
import { cleanups } from '@skein/test-utils';

// A worker's handler passes on the connected client's InvalidArgument (a reverse call's outcome,
// rebuilt in the worker from its code and words): its caller must not get those words, as in
// process. Its own InvalidArgument keeps them.

const codec = msgpackCodec;
const MODULE = new URL('./fixtures/passes-on.mjs', import.meta.url);
const SECRET = 'user 42 not found in shard db-7.internal';

const cleanup = cleanups();

async function run(dispatch: Dispatch) {
  const asker = createServiceDispatch({ codec, logger: silentLogger, services: [implement(Asker, { ask: () => { throw invalidArgument(SECRET); } })] });
  const s = await serve(dispatch, {}, { serve: asker });
  cleanup.push(() => s.close());
  await s.stream.ping();
  const relay = createClient(Relay, s.stream, { codec });
  return { passedOn: await outcome(relay.get(42)), raw: await outcome(relay.raw(42)), own: await outcome(relay.own(-1)) };
}

describe("a worker's handler passing on a reverse call's InvalidArgument", () => {
  it('keeps its words on the server, in a worker as in process; its own InvalidArgument keeps them', async () => {
    const expected = {
      passedOn: { code: 'InvalidArgument', retry: 'never', message: 'Relay.get: rpc_invalid_argument' },
      raw: { code: 'InvalidArgument', retry: 'never', message: 'Relay.raw: rpc_invalid_argument' },
      own: { code: 'InvalidArgument', retry: 'never', message: 'Relay.own: id -1 must be positive' },
    };
    expect(await run(createServiceDispatch({ ...relayOptions, codec }))).toEqual(expected);
    const pool = await startPool({ module: MODULE, workers: 1 });
    cleanup.push(() => pool.destroy());
    expect(await run(pool)).toEqual(expected);
  });
});
