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
  if (!('default' in mod)) throw new TypeError(`${specifier} has no default export (named exports are not read)`);
  let entry = mod.default;
  if (typeof entry === 'function') entry = await entry();
  if (isDispatch(entry)) return entry;
  const services = (entry as ServiceDispatchOptions | undefined)?.services;
  if (Array.isArray(services)) {
    // Said at start: a pool that started would answer every call Service, for as long as it runs.
    if (services.length === 0) throw new TypeError(`${specifier}: the default export lists no services (every call would be answered Service)`);
    return createServiceDispatch(entry as ServiceDispatchOptions);
  }
  throw new TypeError(`${specifier}: the default export is neither createServiceDispatch options ({ codec, services }) nor a Dispatch`);
}

function isDispatch(x: unknown): x is Dispatch {
  return typeof (x as Dispatch | undefined)?.dispatch === 'function';
}

/** Types a worker module's default export: `export default workerModule({ codec, services })`. */
export function workerModule<M extends WorkerModule>(m: M): M {
  return m;
}
