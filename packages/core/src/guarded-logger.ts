import { loggableFields, why } from './loggable-fields.js';
import { silentLogger, type Logger } from './logger.js';

type Level = keyof Logger;

/**
 * A logger whose calls never throw. A failed call is logged on its way to its answer: a log
 * call that throws there (the console logger's JSON of a circular value a handler threw, a
 * logger of your own that fails) would leave the call unanswered, and reject a promise nobody
 * handles, which ends a Node process. A line that cannot be written is tried again with its
 * fields as plain data (`loggableFields`: what the console logger would write of them) and
 * `logFailed` saying why, for a failed call's `action` and `peer` are what the line is for;
 * then with `logFailed` alone; if even that throws, it is dropped.
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
        const logFailed = why(e);
        if (tried(() => logger[level]({ ...loggableFields(obj), logFailed }, msg))) return;
        // A logger that refuses any field of this line: the line itself, saying why.
        tried(() => logger[level]({ logFailed }, msg));
      }
    };
  const wrapped = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
  guarded.add(wrapped);
  return wrapped;
}

/** Runs `write`; false if it threw. Nothing left to try after the last: the call is answered whatever its log line did. */
function tried(write: () => void): boolean {
  try {
    write();
    return true;
  } catch {
    return false;
  }
}

/**
 * Loggers made here: wrapping one again would only add a layer. And the silent logger, which
 * cannot throw (frozen, its methods do nothing): a client made without a logger, per call in a
 * handler that calls its client back, would otherwise make four closures for it.
 */
const guarded = new WeakSet<Logger>([silentLogger]);
