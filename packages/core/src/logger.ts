/** The shape of a pino logger's methods, so a pino instance can be passed as it is. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => {};

/** The default: says nothing. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/** A logger that writes one line per entry to stderr, for examples and debugging. */
export function consoleLogger(level: LogLevel = 'info', name = 'skein'): Logger {
  const at = (l: LogLevel) => (obj: object, msg?: string) => {
    if (RANK[l] < RANK[level]) return;
    console.error(`[${name}] ${l} ${msg ?? ''} ${JSON.stringify(obj, jsonSafe)}`);
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}
