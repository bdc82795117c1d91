import type { Logger } from './logger.js';

type Level = keyof Logger;

/**
 * A logger whose calls never throw. A failed call is logged on its way to its answer: a log
 * call that throws there (the console logger's JSON of a circular value a handler threw, a
 * logger of your own that fails) would leave the call unanswered, and reject a promise nobody
 * handles, which ends a Node process. A line that cannot be written goes without its fields,
 * saying why; if even that throws, it is dropped.
 */
export function guardedLogger(logger: Logger): Logger {
  // Parts hand their logger on to the parts they make (a pool to its streams): wrapped once.
  if (guarded.has(logger)) return logger;
  const at =
    (level: Level) =>
    (obj: object, msg?: string): void => {
      try {
        logger[level](obj, msg);
      } catch (e) {
        try {
          logger[level]({ logFailed: e instanceof Error ? e.message : String(e) }, msg);
        } catch {
          // Nothing left to try: the call is answered whatever its log line did.
        }
      }
    };
  const wrapped = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  guarded.add(wrapped);
  return wrapped;
}

/** Loggers made here: wrapping one again would only add a layer. */
const guarded = new WeakSet<Logger>();
