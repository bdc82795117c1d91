import { msgpackCodec } from '@skein/codec-msgpack';
import { RpcError, silentLogger } from '@skein/core';
import { createClient, createServiceDispatch, implement, withBlob } from '@skein/api';
import type { Dispatch } from '@skein/stream';
import { cleanups, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import backOptions, { Back, Peer } from './fixtures/calls-back.mjs';
import { outcome, serve, startPool } from './harness.js';

// A worker handler's `ctx.caller` call carries its deadline to the client's handler, and is
// cancelled there when it is given up on (docs/protocol.md, "Calls both ways"): through the
// pool as in process.

const codec = msgpackCodec;
const BACK_MODULE = new URL('./fixtures/calls-back.mjs', import.meta.url);
const cleanup = cleanups();

/** What the client's `Peer.hang` handler saw of one call: its time left, and what aborted it. */
interface Seen {
  readonly tag: string;
  readonly remaining: number | undefined;
  reason?: unknown;
}

/** The client's side: `Peer`, whose `hang` records what it saw and answers only when released. */
function peer() {
  const seen: Seen[] = [];
  const release: (() => void)[] = [];
  const dispatch = createServiceDispatch({
    codec,
    logger: silentLogger,
    services: [
      implement(Peer, {
        greet: (name) => `hello ${name}`,
        fail: () => {
          throw new Error('not used here');
        },
        hang: (tag, ctx) =>
          new Promise<string>((resolve) => {
            const s: Seen = { tag, remaining: ctx.remainingMs() };
            seen.push(s);
            ctx.signal.addEventListener('abort', () => (s.reason = ctx.signal.reason));
            release.push(() => resolve(tag));
          }),
        count: async function* () {},
        mirror: ({ value, blob }) => withBlob({ tag: value.tag, sum: 0 }, blob),
      }),
    ],
  });
  return { dispatch, seen, release: () => release.splice(0).forEach((r) => r()) };
}

async function dispatches(): Promise<[string, Dispatch][]> {
  const pool = await startPool({ module: BACK_MODULE, workers: 1 });
  cleanup.push(() => pool.destroy());
  return [
    ['in process', createServiceDispatch({ ...backOptions, codec })],
    ['in a worker', pool],
  ];
}

async function served(dispatch: Dispatch, serveWindow: number) {
  const p = peer();
  const s = await serve(dispatch, {}, { serve: p.dispatch, serveWindow });
  cleanup.push(() => s.close());
  cleanup.push(() => p.release());
  await s.stream.ping();
  return { peer: p, back: createClient(Back, s.stream, { codec }) };
}

describe("a worker handler's ctx.caller call: deadline and cancel reach the client's handler", () => {
  it("hands the call's timeout to the client's handler as its deadline, whose signal aborts when the call times out", async () => {
    for (const [where, dispatch] of await dispatches()) {
      const { peer: p, back } = await served(dispatch, 4);
      expect(await back.timed({ timeoutMs: 300, withCtx: false }, { timeoutMs: 60_000 }), where).toMatchObject({ code: 'Timeout' });
      const hang = p.seen.find((s) => s.tag === 'timed')!;
      expect(hang.remaining, where).toBeGreaterThan(0);
      expect(hang.remaining, where).toBeLessThanOrEqual(300);
      // Its own deadline, or the server's cancel, whichever came first.
      await waitFor(() => hang.reason, { what: `${where}: the handler's signal` });
      expect(['Timeout', 'Cancelled'], where).toContain((hang.reason as RpcError).codeName);
    }
  });

  it("cancels it on the client when the call it was made for ({ ctx }) is cancelled: the client's handler sees Cancelled", async () => {
    for (const [where, dispatch] of await dispatches()) {
      // A window of 2: `a` and `b` are both out on the client.
      const { peer: p, back } = await served(dispatch, 2);
      const ac = new AbortController();
      const call = outcome(back.cancelPair(undefined, { signal: ac.signal }));
      await waitFor(() => p.seen.length === 2, { what: `${where}: both calls out` });
      ac.abort();
      expect(await call, where).toMatchObject({ code: 'Cancelled' });
      const b = p.seen.find((s) => s.tag === 'b')!;
      await waitFor(() => b.reason, { what: `${where}: b's signal` });
      expect(b.reason, where).toBeInstanceOf(RpcError);
      expect(b.reason, where).toMatchObject({ codeName: 'Cancelled', message: 'Peer.hang: cancelled by the server' });
      // `a` was not made on the call's behalf: it runs on.
      expect(p.seen.find((s) => s.tag === 'a')!.reason, where).toBeUndefined();
      p.release();
    }
  });
});
