import { invalidArgument } from '@skein/core';

/**
 * The longest service name a health check or watch takes, in UTF-16 code units. A watch of a
 * name the server holds no status for is kept under that name until it ends: without a bound, a
 * client's watches could make the server hold megabytes of names (memory grows with bytes
 * claimed). gRPC's fully qualified names (`package.Service`) are far shorter.
 */
export const MAX_HEALTH_SERVICE_NAME = 256;

/** Why `name` is no service name a health reporter takes, or undefined when it is one. `''` is the whole server. */
export function serviceNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `must be a string (the service's name, '' for the whole server), got ${name === null ? 'null' : typeof name}`;
  if (name.length > MAX_HEALTH_SERVICE_NAME) return `is ${name.length} characters long, more than the ${MAX_HEALTH_SERVICE_NAME} a health service name may have`;
  return undefined;
}

/** Throws InvalidArgument, naming `where`, for a name `serviceNameProblem` refuses. */
export function checkServiceName(name: unknown, where: string): asserts name is string {
  const problem = serviceNameProblem(name);
  if (problem !== undefined) throw invalidArgument(`${where}: service name ${problem}`);
}
