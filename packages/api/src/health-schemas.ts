import type { StandardSchemaV1 } from '@standard-schema/spec';
import { serviceNameProblem } from './health-service-name.js';
import { isHealthStatus, type HealthStatus } from './health-status.js';

/**
 * The health service's values, checked where they are sent and where they arrive, as any
 * method's schemas are (schema.ts): a huge or non-string service name is refused with
 * InvalidArgument on the client before anything is sent, and on the server before the handler
 * runs; a reply that is no status fails the reading. Written by hand: @skein/api depends on no
 * schema library.
 */

/** What a check or watch asks about: `{ service }`; left out (or the argument left out), `''`, the whole server. */
export interface HealthRequest {
  service?: string | undefined;
}

/** What a check answers and a watch yields. */
export interface HealthReply {
  status: HealthStatus;
}

type Result<T> = StandardSchemaV1.Result<T>;

function schema<In, Out>(validate: (value: unknown) => Result<Out>): StandardSchemaV1<In, Out> {
  return { '~standard': { version: 1, vendor: 'skein', validate } };
}

const issue = <T>(message: string, key?: string): Result<T> => ({ issues: [{ message, ...(key !== undefined && { path: [key] }) }] });

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const healthRequest = schema<HealthRequest | undefined, { service: string }>((value) => {
  if (value === undefined || value === null) return { value: { service: '' } };
  if (!isRecord(value)) return issue("must be { service } (a service's name, '' for the whole server)");
  const service = value.service ?? '';
  const problem = serviceNameProblem(service);
  return problem === undefined ? { value: { service: service as string } } : issue(problem, 'service');
});

export const healthReply = schema<HealthReply, HealthReply>((value) => {
  if (!isRecord(value)) return issue('must be { status }');
  const { status } = value;
  if (!isHealthStatus(status)) return issue(`must be 'serving', 'not-serving' or 'unknown'`, 'status');
  return { value: { status } };
});
