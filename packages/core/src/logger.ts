import { fieldText, jsonSafe, why } from './loggable-fields.js';

/** The shape of a pino logger's methods, so a pino instance can be passed as it is. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};

/** The default: says nothing. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * A logger that writes one line per entry to stderr, for examples and debugging. It never
 * throws: its lines are written on the way to answering calls (a failed call is logged, then
 * answered), and fields JSON cannot hold (a circular error response, a getter that throws) must
 * not stop that. Cycles are written `[Circular]`, bigints as strings; a field it still cannot
 * write is written as a string saying why, the line's other fields as they are.
 */
export function consoleLogger(level: LogLevel = 'info', name = 'skein'): Logger {
  const at = (l: LogLevel) => (obj: object, msg?: string) => {
    if (RANK[l] < RANK[level]) return;
    console.error(`[${name}] ${l} ${msg ?? ''} ${fieldsText(obj)}`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function fieldsText(obj: object): string {
  try {
    return JSON.stringify(obj, jsonSafe()) ?? '';
  } catch {
    return fieldByField(obj);
  }
}

/**
 * The fields again, each on its own: one that cannot be written (an error with a throwing getter)
 * must not take the others with it (a failed call's `action` and `peer`). Only after a failure.
 */
function fieldByField(obj: object): string {
  try {
    const parts: string[] = [];
    for (const key of Object.keys(obj)) {
      const text = fieldText(obj, key);
      if (text !== undefined) parts.push(`${JSON.stringify(key)}:${text}`);
    }
    return `{${parts.join(',')}}`;
  } catch (err) {
    return `(fields not written: ${why(err)})`; // its keys cannot even be listed (a Proxy's trap)
  }
}
