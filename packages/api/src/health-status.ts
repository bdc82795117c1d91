/**
 * What a server says of a service's health, as gRPC's `grpc.health.v1` does: `serving`
 * (SERVING), `not-serving` (NOT_SERVING: up, but calls should go elsewhere; also every service
 * once the server begins to close) and `unknown` (SERVICE_UNKNOWN: the server holds no status
 * for the name; a watch says it and keeps watching, a check fails with `ServiceUnknown`).
 * Strings, not gRPC's numbers: they print as they are in logs, JSON and the `skein` command.
 */
export type HealthStatus = 'serving' | 'not-serving' | 'unknown';

/** What an application sets a service to (`HealthReporter.set`); `unknown` is no status at all (`clear`). */
export type ServingStatus = Exclude<HealthStatus, 'unknown'>;

const STATUSES: ReadonlySet<unknown> = new Set<HealthStatus>(['serving', 'not-serving', 'unknown']);

export function isHealthStatus(value: unknown): value is HealthStatus {
  return STATUSES.has(value);
}

export function isServingStatus(value: unknown): value is ServingStatus {
  return value === 'serving' || value === 'not-serving';
}
