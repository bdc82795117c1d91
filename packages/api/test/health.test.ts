import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RpcError, silentLogger } from '@skein/core';
import { RpcServer } from '@skein/stream';
import { cleanups, waitFor, within } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import {
  Health,
  HealthReporter,
  MAX_HEALTH_SERVICE_NAME,
  ServiceUnknown,
  createClient,
  createServiceDispatch,
  healthService,
  implement,
  method,
  service,
  type HealthReply,
  type ServiceImpl,
} from '../src/index.js';
import { listening } from './harness.js';

const cleanup = cleanups();

/** Far past any test's own timeout: a close that waited for a watcher would fail the test, never pass it. */
const CLOSE_WAIT_MS = 60_000;

const Echo = service('Echo', { say: method<string, string>() });

/** A real server over TCP with `services`, and a typed Health client over a real connection to it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- services of any definitions, as the dispatch takes them
async function start(services: ServiceImpl<any>[], serverOpts: { maxInFlightPerConn?: number } = {}) {
  const server = new RpcServer({
    closeWaitMs: CLOSE_WAIT_MS,
    logger: silentLogger,
    ...serverOpts,
    dispatch: createServiceDispatch({ codec: msgpackCodec, logger: silentLogger, streamTimeoutMs: 0, services }),
  });
  const served = await listening(server, cleanup);
  const connect = async () => {
    const stream = await served.connect();
    return { stream, health: createClient(Health, stream, { codec: msgpackCodec }) };
  };
  return { server, address: served.address, connect };
}

/** Reads a watch by hand: each `next()` is one status, so a test says which it expects when. */
async function openWatch(health: Awaited<ReturnType<Awaited<ReturnType<typeof start>>['connect']>>['health'], svc: string, signal?: AbortSignal) {
  const it = (await health.watch({ service: svc }, { signal }))[Symbol.asyncIterator]();
  return {
    it,
    async next(): Promise<HealthReply['status'] | 'ended'> {
      const r = await within(it.next(), 10_000, 'the next status');
      return r.done === true ? 'ended' : r.value.status;
    },
  };
}

describe('health: check', () => {
  it('answers serving / not-serving as set, the whole server as "", and fails an unknown name with ServiceUnknown', async () => {
    const reporter = new HealthReporter();
    const { connect } = await start([healthService(reporter)]);
    const { health } = await connect();

    expect(await health.check()).toEqual({ status: 'serving' });
    expect(await health.check({ service: '' })).toEqual({ status: 'serving' });
    // Left out, as a caller under exactOptionalPropertyTypes may hand on a name it does not have.
    expect(await health.check({ service: undefined })).toEqual({ status: 'serving' });
    reporter.set('Orders', 'not-serving');
    expect(await health.check({ service: 'Orders' })).toEqual({ status: 'not-serving' });
    reporter.set('Orders', 'serving');
    expect(await health.check({ service: 'Orders' })).toEqual({ status: 'serving' });
    reporter.set('', 'not-serving');
    expect(await health.check()).toEqual({ status: 'not-serving' });

    const err = await health.check({ service: 'Billing' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceUnknown);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as ServiceUnknown).code).toBe(ErrorCode.Service);
    expect((err as ServiceUnknown).service).toBe('Billing');
    expect((err as Error).message).toContain('"Billing"');
    // A name that begins with U+FEFF comes back as it was asked, that character kept.
    expect(((await health.check({ service: '\uFEFFBilling' }).catch((e: unknown) => e)) as ServiceUnknown).service).toBe('\uFEFFBilling');
    // Once cleared, a name is unknown again.
    reporter.clear('Orders');
    expect(await health.check({ service: 'Orders' }).catch((e: unknown) => e)).toBeInstanceOf(ServiceUnknown);
  });

  it('a server without the health service answers a bare Service error, not ServiceUnknown', async () => {
    const { connect } = await start([implement(Echo, { say: (s) => s })]);
    const { health } = await connect();
    const err = await health.check().catch((e: unknown) => e);
    expect(RpcError.is(err, ErrorCode.Service)).toBe(true);
    expect(err).not.toBeInstanceOf(ServiceUnknown);
  });

  it('the health service sits beside a service of any name an application may declare: the wire name cannot collide', async () => {
    // `service()` refuses a dot: an application's service can never be named skein.health.Health.
    expect(() => service('skein.health.Health', { check: method() })).toThrow(/identifier/);
    const reporter = new HealthReporter();
    const Health2 = service('Health', { check: method<void, string>() });
    const { stream, health } = await (await start([healthService(reporter), implement(Health2, { check: () => 'mine' })])).connect();
    expect(await createClient(Health2, stream, { codec: msgpackCodec }).check()).toBe('mine');
    expect(await health.check()).toEqual({ status: 'serving' });
    // An unknown method of the dotted service is told as a missing method of it, not a missing service.
    const Nope = Object.freeze({ name: 'skein.health.Health', methods: Object.freeze({ nope: method<void, unknown>() }) });
    expect(await createClient(Nope, stream, { codec: msgpackCodec }).nope().catch((e: RpcError) => e.code)).toBe(ErrorCode.Method);
  });

  it('refuses a service name past MAX_HEALTH_SERVICE_NAME with InvalidArgument: on the client, on the server, and in the reporter', async () => {
    const reporter = new HealthReporter();
    const { stream, health } = await (await start([healthService(reporter)])).connect();
    const huge = 'x'.repeat(MAX_HEALTH_SERVICE_NAME + 1);
    const local = await health.check({ service: huge }).catch((e: unknown) => e);
    expect(RpcError.is(local, ErrorCode.InvalidArgument)).toBe(true);
    expect((local as Error).message).toMatch(/^skein\.health\.Health\.check: invalid argument: service: is 257 characters long/);
    // A client with no schema (another language's, plain JS) sends it: the server refuses it before the handler.
    const Bare = Object.freeze({ name: 'skein.health.Health', methods: Object.freeze({ check: method<unknown, unknown>(), watch: method<unknown, unknown>() }) });
    const bare = createClient(Bare, stream, { codec: msgpackCodec });
    const remote = await bare.check({ service: huge }).catch((e: unknown) => e);
    expect(RpcError.is(remote, ErrorCode.InvalidArgument)).toBe(true);
    expect((remote as Error).message).toContain('257 characters long');
    expect(RpcError.is(await bare.check({ service: 7 }).catch((e: unknown) => e), ErrorCode.InvalidArgument)).toBe(true);
    // The longest allowed name is fine.
    const longest = 'y'.repeat(MAX_HEALTH_SERVICE_NAME);
    reporter.set(longest, 'serving');
    expect(await health.check({ service: longest })).toEqual({ status: 'serving' });
    expect(() => reporter.set(huge, 'serving')).toThrow(/HealthReporter\.set: service name is 257 characters long/);
    expect(() => reporter.set('Orders', 'unknown' as 'serving')).toThrow(/status must be 'serving' or 'not-serving'/);
  });
});

describe('health: watch', () => {
  it('yields the current status at once, then each change in order; an unknown name yields unknown and keeps watching', async () => {
    const reporter = new HealthReporter();
    const { health } = await (await start([healthService(reporter)])).connect();
    const w = await openWatch(health, 'Orders');
    expect(await w.next()).toBe('unknown');
    expect(reporter.watchers).toBe(1);
    reporter.set('Orders', 'serving');
    expect(await w.next()).toBe('serving');
    reporter.set('Orders', 'serving'); // no change: nothing sent
    reporter.set('Orders', 'not-serving');
    expect(await w.next()).toBe('not-serving');
    reporter.clear('Orders');
    expect(await w.next()).toBe('unknown');
    reporter.set('Other', 'not-serving'); // another name: nothing for this watcher
    reporter.set('Orders', 'serving');
    expect(await w.next()).toBe('serving');
    await w.it.return!();
    await waitFor(() => reporter.watchers === 0, { what: 'the watcher let go' });
  });

  it('a reader that falls behind gets the latest status, not a backlog (the reporter, read directly)', async () => {
    const reporter = new HealthReporter();
    const w = reporter.watch('Orders');
    expect((await w.next()).value).toEqual({ status: 'unknown' });
    reporter.set('Orders', 'serving');
    reporter.set('Orders', 'not-serving');
    expect((await w.next()).value).toEqual({ status: 'not-serving' });
    // Away and back to what the reader knows while it is behind: no change to read. The
    // shutdown's not-serving is none either: the watch just ends.
    reporter.set('Orders', 'serving');
    reporter.set('Orders', 'not-serving');
    reporter.shutdown();
    expect(await w.next()).toEqual({ done: true, value: undefined });
    expect(reporter.watchers).toBe(0);
  });

  for (const how of ['break', 'abort', 'connection lost'] as const) {
    it(`a watcher whose client goes away (${how}) leaves nothing behind in the reporter`, async () => {
      const reporter = new HealthReporter();
      const { stream, health } = await (await start([healthService(reporter)])).connect();
      const watches = [];
      const ac = new AbortController();
      for (let i = 0; i < 20; i++) {
        const w = await openWatch(health, i % 2 === 0 ? 'Orders' : '', ac.signal);
        expect(await w.next()).toBe(i % 2 === 0 ? 'unknown' : 'serving');
        watches.push(w);
      }
      expect(reporter.watchers).toBe(20);
      if (how === 'break') for (const w of watches) await w.it.return!();
      else if (how === 'abort') ac.abort();
      else stream.destroy();
      await waitFor(() => reporter.watchers === 0, { what: 'every watcher let go' });
      // Still answering: the reporter goes on for the next client.
      reporter.set('Orders', 'serving');
      expect(reporter.get('Orders')).toBe('serving');
    });
  }

  it("a client's watches are bounded by the server's stream cap (maxInFlightPerConn), not by the reporter", async () => {
    const reporter = new HealthReporter();
    const { health } = await (await start([healthService(reporter)], { maxInFlightPerConn: 4 })).connect();
    const opened = [];
    for (let i = 0; i < 4; i++) {
      const w = await openWatch(health, '');
      expect(await w.next()).toBe('serving');
      opened.push(w);
    }
    const refused = await openWatch(health, '')
      .then((w) => w.next())
      .catch((e: unknown) => e);
    expect(RpcError.is(refused, ErrorCode.Overloaded)).toBe(true);
    expect(reporter.watchers).toBe(4);
  });
});

describe('health: the server closing', () => {
  for (const attached of [true, false]) {
    it(`watchers are told not-serving, then their streams end, and the close does not wait for them (${attached ? 'attach(server)' : 'attached by its own calls'})`, { timeout: 20_000 }, async () => {
      const reporter = new HealthReporter();
      reporter.set('Orders', 'serving');
      reporter.set('Paused', 'not-serving');
      const { server, connect } = await start([healthService(reporter)]);
      if (attached) reporter.attach(server);
      const { health } = await connect();
      const whole = await openWatch(health, '');
      const orders = await openWatch(health, 'Orders');
      const unknown = await openWatch(health, 'Nobody');
      const paused = await openWatch(health, 'Paused');
      expect([await whole.next(), await orders.next(), await unknown.next(), await paused.next()]).toEqual(['serving', 'serving', 'unknown', 'not-serving']);

      const closed = server.close();
      for (const w of [whole, orders, unknown]) {
        expect(await w.next()).toBe('not-serving');
        expect(await w.next()).toBe('ended');
      }
      // Not-serving already: told nothing twice, its stream just ends.
      expect(await paused.next()).toBe('ended');
      // closeWaitMs is 60 s: a close held by a watcher would fail the test's timeout.
      await closed;
      expect(reporter.watchers).toBe(0);
      expect(reporter.get('')).toBe('not-serving');
      expect(reporter.get('Orders')).toBe('not-serving');
      reporter.set('Orders', 'serving'); // after shutdown: ignored, as gRPC's Shutdown
      expect(reporter.get('Orders')).toBe('not-serving');
    });
  }

  it('attach(server) flips the reporter when the close begins, with no health call made', async () => {
    const reporter = new HealthReporter();
    const { server } = await start([healthService(reporter)]);
    reporter.attach(server);
    expect(reporter.get('')).toBe('serving');
    const closed = server.close();
    expect(reporter.get('')).toBe('not-serving');
    await closed;
    // A watch begun after the shutdown (a worker's queued call) says not-serving and ends.
    const late = reporter.watch('');
    expect((await late.next()).value).toEqual({ status: 'not-serving' });
    expect((await late.next()).done).toBe(true);
    expect(reporter.watchers).toBe(0);
  });
});
