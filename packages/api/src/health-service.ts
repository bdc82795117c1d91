import { Health } from './health-definition.js';
import type { HealthReporter } from './health-reporter.js';
import { implement, type ServiceImpl } from './service-dispatch.js';
import { ServiceUnknown } from './service-unknown.js';

/**
 * The health service, answering from `reporter`: put it among the dispatch's services
 * (`createServiceDispatch({ codec, services: [healthService(reporter), ...] })`). Each call
 * attaches the reporter to its own server (`ctx.draining`, once per server), so watchers are
 * told `not-serving` and ended when that server begins to close even without `attach(server)`.
 */
export function healthService(reporter: HealthReporter): ServiceImpl<typeof Health> {
  return implement(Health, {
    check({ service }, ctx) {
      reporter.attach(ctx);
      const status = reporter.get(service);
      if (status === 'unknown') throw new ServiceUnknown(service);
      return { status };
    },
    watch({ service }, ctx) {
      reporter.attach(ctx);
      return reporter.watch(service);
    },
  });
}
