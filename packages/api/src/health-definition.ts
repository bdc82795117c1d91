import { method, type ServiceDef } from './define.js';
import { healthReply, healthRequest } from './health-schemas.js';
import { serviceUnknownErrors } from './service-unknown.js';
import { serverStream } from './stream-methods.js';

/**
 * The health service's name on the wire: its calls are `skein.health.Health.check` and
 * `skein.health.Health.watch`. Dotted, as gRPC's `grpc.health.v1.Health` is, because
 * `service()` refuses a dot in an application's service name (an action is `Service.method`):
 * no service an application declares can take this name, whatever it calls its own, and the
 * `skein.` prefix keeps it apart from any other protocol's.
 */
export const HEALTH_SERVICE_NAME = 'skein.health.Health';

const methods = Object.freeze({
  /**
   * The status of `service` now (`''`, or the argument left out: the whole server). A name the
   * server holds no status for fails with `ServiceUnknown`. Idempotent: a pool may ask again.
   */
  check: method({ input: healthRequest, output: healthReply }).throws(serviceUnknownErrors).idempotent(),
  /**
   * The status of `service` at once, then each time it changes, until the client stops reading or
   * the server closes (which it says first: `not-serving`). A name with no status yields
   * `unknown` and is watched on: the status it is given later follows.
   */
  watch: serverStream({ input: healthRequest, output: healthReply }),
});

/**
 * gRPC's health-checking protocol (grpc.health.v1) for Skein: serve it with
 * `healthService(reporter)`, call it with `createClient(Health, caller, { codec })`, probe it
 * with `skein health ADDR [SERVICE]`. Made without `service()`, which would refuse the dotted
 * name that keeps it apart from every application's service (see HEALTH_SERVICE_NAME).
 */
export const Health: ServiceDef<typeof HEALTH_SERVICE_NAME, typeof methods> = Object.freeze({ name: HEALTH_SERVICE_NAME, methods });
