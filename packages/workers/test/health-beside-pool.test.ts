import { msgpackCodec } from '@skein/codec-msgpack';
import { HEALTH_SERVICE_NAME, Health, HealthReporter, createClient, createServiceDispatch, healthService } from '@skein/api';
import { dispatchByService } from '@skein/stream';
import { memoryLogger, waitFor, cleanups } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { GATES_MODULE, gate, outcome, serve, startPool } from './harness.js';

// The health service on the server's event loop, the rest of the server's calls on a worker pool,
// one server (dispatchByService): a Kubernetes probe is answered while the pool's queue is full,
// where a pool-served health check would be answered Overloaded and the pod restarted.

const cleanup = cleanups();
const HOLD = 1; // gates.mjs: answers its msg once its gate opens
const ECHO = 3; // gates.mjs: answers its msg at once

describe('health on the loop beside a worker pool', () => {
  it("answers health checks and watches from the server's thread while the pool's queue is full, and says what reporter.set there says", async () => {
    const pool = await startPool({ module: GATES_MODULE, workers: 1, maxInFlightPerWorker: 1, maxQueued: 1, logger: memoryLogger() });
    cleanup.push(() => pool.destroy());
    const reporter = new HealthReporter();
    const onLoop = createServiceDispatch({ codec: msgpackCodec, services: [healthService(reporter)] });
    const dispatch = dispatchByService({ services: { [HEALTH_SERVICE_NAME]: onLoop }, otherwise: pool });
    // The pool says nothing of its handlers' ends: the whole does not claim it does for every
    // request, only for health's (abandoned-beside-pool.test.ts: the loop's stay bounded).
    expect(dispatch.tellsHandlerEnds).toBe(false);
    const s = await serve(dispatch, { closeWaitMs: 0 });
    cleanup.push(() => s.close());
    const health = createClient(Health, s.stream, { codec: msgpackCodec });

    // The worker holds one call, the queue one more: the pool is full, and refuses the next.
    const g = gate();
    cleanup.push(() => g.open());
    const held = outcome(s.stream.call(HOLD, g.msg));
    await waitFor(() => pool.stats().inFlight === 1, { what: 'the worker to hold a call' });
    const queued = outcome(s.stream.call(HOLD, g.msg));
    await waitFor(() => pool.stats().queued === 1, { what: 'a call queued' });
    expect(await outcome(s.stream.call(ECHO, new Uint8Array([1])))).toMatchObject({ code: 'Overloaded' });

    // The probe's check, and a watch (a stream, which a pool would refuse), answered on the loop.
    expect(await health.check({})).toEqual({ status: 'serving' });
    const watch = (await health.watch({ service: '' }))[Symbol.asyncIterator]();
    expect((await watch.next()).value).toEqual({ status: 'serving' });

    // Set on the server's thread: what the check and the watch then say.
    reporter.set('', 'not-serving');
    expect(await health.check({ service: '' })).toEqual({ status: 'not-serving' });
    expect((await watch.next()).value).toEqual({ status: 'not-serving' });
    await watch.return?.();

    // Still full all along: the pool's calls were refused, health's were not.
    expect(await outcome(s.stream.call(ECHO, new Uint8Array([2])))).toMatchObject({ code: 'Overloaded' });
    expect(pool.stats().overloaded).toBe(2);
    g.open();
    expect(await held).toMatchObject({ ok: expect.anything() });
    expect(await queued).toMatchObject({ ok: expect.anything() });
    // Emptied, the pool serves again.
    expect(await outcome(s.stream.call(ECHO, new Uint8Array([3])).then((r) => Array.from(r.msg)))).toEqual({ ok: [3] });
  });
});
