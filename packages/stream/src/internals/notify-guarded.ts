import type { Logger } from '@skein/core';

/** Where a caller's callback that threw is told: a connection's or a pool's logger, and who it talks to. */
export interface CallbackHost {
  readonly logger: Logger;
  /** The connection's peer (a pool's: its address). */
  readonly remote: string;
}

/** The line a callback that threw is logged with, wherever it was told. */
export const CALLBACK_THREW = "a call's callback threw: its call is settled, the connection goes on";

/**
 * Tells a caller's callback (a raw `send`'s `notify`) its call's outcome. One that throws is
 * logged once, at error level, with its action and remote, and its call counts as settled:
 * thrown out of the frame handling that answered it, it closed the connection under every other
 * call on it (IO, "may have run"); out of a timer (a timeout, a close) or a signal's listener, it
 * was uncaught. Arguments, not a closure: nothing is made per call, and a try/catch costs a call
 * that does not throw nothing. `remote` may be a function, for a name that costs some work to
 * make (a pool's, by its servers): called only when the callback threw.
 */
export function notifyGuarded<E, R>(
  logger: Logger,
  remote: string | (() => string),
  action: string | number,
  notify: (err: E, reply: R) => void,
  err: E,
  reply: R,
  msg: string = CALLBACK_THREW,
): void {
  try {
    notify(err, reply);
  } catch (thrown) {
    logger.error({ remote: typeof remote === 'string' ? remote : remote(), action, err: thrown }, msg);
  }
}
