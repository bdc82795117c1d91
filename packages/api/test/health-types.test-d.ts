import type { Caller } from '@skein/stream';
import { describe, expectTypeOf, it } from 'vitest';
import { Health, HealthReporter, ServiceUnknown, createClient, healthService, type HealthReply, type HealthStatus } from '../src/index.js';

declare const caller: Caller;
const health = createClient(Health, caller, { codec: null! });

describe('the health service, typed from its definition', () => {
  it('check and watch: the argument may be left out (the whole server), replies are { status }', () => {
    expectTypeOf(health.check()).resolves.toEqualTypeOf<HealthReply>();
    expectTypeOf(health.check({ service: 'Orders' })).resolves.toEqualTypeOf<HealthReply>();
    expectTypeOf(health.watch({ service: 'Orders' })).resolves.toEqualTypeOf<AsyncIterable<HealthReply>>();
    expectTypeOf<HealthReply['status']>().toEqualTypeOf<'serving' | 'not-serving' | 'unknown'>();
    // @ts-expect-error a service name is a string
    void health.check({ service: 7 });
  });

  it("check's own error is ServiceUnknown, typed in its result form", async () => {
    const r = await health.check.result({ service: 'Orders' });
    if (!r.ok) expectTypeOf(r.error).toMatchTypeOf<ServiceUnknown | Error>();
  });

  it('the reporter sets serving or not-serving; unknown is no status to set', () => {
    const reporter = new HealthReporter();
    reporter.set('Orders', 'serving');
    // @ts-expect-error unknown is cleared, not set
    reporter.set('Orders', 'unknown');
    expectTypeOf(reporter.get('Orders')).toEqualTypeOf<HealthStatus>();
    expectTypeOf(healthService(reporter).def).toEqualTypeOf(Health);
  });
});
