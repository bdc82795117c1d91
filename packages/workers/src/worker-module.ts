import { createServiceDispatch, type ServiceDispatchOptions } from '@skein/api';
import type { Dispatch } from '@skein/stream';

/**
 * What a worker module's default export may be: the options of `createServiceDispatch` (the
 * same `implement(...)` services an in-process server takes, with their codec), any stream
 * `Dispatch` (a `createRouter` table...), or a function, possibly async, that returns either.
 */
export type WorkerModule = ServiceDispatchOptions | Dispatch | (() => ServiceDispatchOptions | Dispatch | Promise<ServiceDispatchOptions | Dispatch>);

/** Loads the module a pool names and makes its Dispatch; throws with a reason when it cannot. */
export async function loadWorkerModule(specifier: string): Promise<Dispatch> {
  const mod = (await import(specifier)) as { default?: WorkerModule };
  let entry = mod.default;
  if (typeof entry === 'function') entry = await entry();
  if (isDispatch(entry)) return entry;
  if (entry && Array.isArray((entry as ServiceDispatchOptions).services)) return createServiceDispatch(entry as ServiceDispatchOptions);
  throw new TypeError(`${specifier}: the default export is neither createServiceDispatch options ({ codec, services }) nor a Dispatch`);
}

function isDispatch(x: unknown): x is Dispatch {
  return typeof (x as Dispatch | undefined)?.dispatch === 'function';
}

/** Types a worker module's default export: `export default workerModule({ codec, services })`. */
export function workerModule<M extends WorkerModule>(m: M): M {
  return m;
}
