import { ErrorCode, RpcError } from '@skein/core';
import { cleanups, waitFor } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { FailoverPool, type ActionHandler } from '../src/index.js';
import { fixtureServer, transport } from './harness.js';
import { localServer } from './pool-harness.js';

const cleanup = cleanups();

/** Answers at once: a stream moved here would end well, and the test sees it at once. */
const answers: ActionHandler = () => undefined;

/** Keepalive short enough that a frozen server is found in about a second, not seven. */
const KEEPALIVE = { keepaliveMs: 200, keepaliveTimeoutMs: 600, tickMs: 50 };

// Once its OPEN is written a stream may have run, even if its server said nothing yet: a server
// lost then (killed, or frozen and found by keepalive) ends it, and it never moves, whatever the
// call's idempotent flag and shouldFailover say (README: "Anything else ends an open stream").
// The existing tests of this rule had the server send an item first (heard); this one covers the
// silent case, which only the mayHaveRun check of openStreamFailure guards.
describe('a FailoverPool stream open on a server lost before that server said anything of it', () => {
  for (const signal of ['SIGKILL', 'SIGSTOP'] as const) {
    it(`${signal}: fails IO, may have run, and is never opened on another server, even idempotent with the hook saying next`, async () => {
      // fixtures/server.mjs: its `never` handler says nothing, for ever.
      const lost = await fixtureServer(cleanup);
      const live = await localServer({ never: answers });
      cleanup.push(() => live.server.close());
      const pool = new FailoverPool({ transport, servers: [lost.address, live.address], strategy: 'leader', shouldFailover: () => 'next', pool: { stream: KEEPALIVE } });
      cleanup.push(() => pool.close());
      // A call answered first: the hello's answer is in, so the stream goes on the wire as it opens
      // (one waiting for that answer is counted in flight too, and lost unsent it would rightly move).
      await pool.call('echo');
      const stream = pool.openStream('never', undefined, { idempotent: true });
      const ended = stream.result.then(
        () => undefined,
        (e: unknown) => e,
      );
      // Open on the first server (the leader): its pool counts it in flight.
      await waitFor(() => pool.stats()[0]!.inFlight === 1, { what: 'the stream to open on the first server' });
      lost.proc.kill(signal);

      const err = (await ended) as RpcError;
      expect(err).toBeInstanceOf(RpcError);
      expect(err.code).toBe(ErrorCode.IO);
      expect(err.retry).toBe('idempotent');
      expect(err.message).toContain(`the stream may have executed on ${lost.address}; not moved`);
      expect(live.counts.never).toBeUndefined();
    }, 30_000);
  }
});
