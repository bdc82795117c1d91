import type { Logger } from '@skein/core';

/**
 * Tells an application hook (`onMembershipChange`, `onServerHealth`) an event. One that throws
 * is logged and does not stop the pool: the events come on the way to calls' outcomes (a
 * breaker that opens) and membership changes, which must go on. `shown`: the event's server as
 * log lines name it.
 */
export function tellHook<E extends { readonly address: string }>(logger: Logger, hook: ((event: E) => void) | undefined, event: E, name: string, shown: string): void {
  if (!hook) return;
  try {
    hook(event);
  } catch (err) {
    // The hook is told the server's key; the line names it as the pool's lines do (`PoolServer.shown`: no token).
    logger.error({ err, event: { ...event, address: shown } }, `${name} threw`);
  }
}
