import { msgpackCodec } from '@skein/codec-msgpack';
import { createClient, createServiceDispatch, implement } from '@skein/api';
import { cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { Reader, Relay } from './fixtures/relays-metadata.mjs';
import { serve, startPool } from './harness.js';

// A worker handler's `ctx.caller` passes a reverse call's metadata on: the pool sends it on the
// connection's own caller, and the client's handler reads it as it reads a forward call's.

const codec = msgpackCodec;
const MODULE = new URL('./fixtures/relays-metadata.mjs', import.meta.url);
const cleanup = cleanups();

describe("a worker's calls to its client (ctx.caller, { ctx }) with metadata", () => {
  it("reach the client's handler with their metadata", async () => {
    const pool = await startPool({ module: MODULE, workers: 1 });
    cleanup.push(() => pool.destroy());
    const serving = createServiceDispatch({ codec, services: [implement(Reader, { read: (_arg, ctx) => Object.entries(ctx.metadata) })] });
    const s = await serve(pool, {}, { serve: serving, keepaliveMs: 0 });
    cleanup.push(() => s.close());
    const relay = createClient(Relay, s.stream, { codec });
    expect(await relay.relay({ authorization: 'Bearer t', 'x-trace': 'abc' })).toEqual([
      ['authorization', 'Bearer t'],
      ['x-trace', 'abc'],
    ]);
    expect(await relay.relay({})).toEqual([]);
  });
});
