/**
 * `Partial<T>` for an options field whose object fills in defaults (a stream's `limits`, a pool's
 * `backoff`): each field may be left out or be `undefined`, read alike, so a consumer compiling
 * with `exactOptionalPropertyTypes` may hand on a value it may not have
 * (`{ maxMs: cfg.backoffMaxMs }`). The code that reads it must take an undefined field as one
 * left out (never spread it over the defaults as it is).
 */
export type OptionalFields<T> = { [K in keyof T]?: T[K] | undefined };
