/**
 * Any awaitable, not only a native Promise: a query builder's result, a Bluebird promise, a
 * promise from another realm. `instanceof Promise` misses them, and code that then takes such a
 * value as a result (or drops it) lets through what it was meant to refuse.
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}
