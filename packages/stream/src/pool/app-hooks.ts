import type { Logger } from '@skein/core';

/**
 * Tells an application hook (`onMembershipChange`, `onServerHealth`) an event. One that throws
 * is logged and does not stop the pool: the events come on the way to calls' outcomes (a
 * breaker that opens) and membership changes, which must go on.
 */
export function tellHook<E>(logger: Logger, hook: ((event: E) => void) | undefined, event: E, name: string): void {
  if (!hook) return;
  try {
    hook(event);
  } catch (err) {
    logger.error({ err, event }, `${name} threw`);
  }
}
