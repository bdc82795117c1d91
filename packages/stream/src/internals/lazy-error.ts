/**
 * An error, or what makes it when it is first needed. A stream's end fails its writes and reads
 * from then on with an error, and making one at every end, read or not, cost ~4.6 µs a stream
 * (its stack trace): nearly half of what a short stream costs its client. Made on demand, and
 * then the same error each time (`lazyError`).
 */
export type ErrorSource = Error | (() => Error);

/** The error `source` stands for, made now if it was not yet. */
export const errorOf = (source: ErrorSource): Error => (typeof source === 'function' ? source() : source);

/** `make`'s error, made at the first call and the same one at every call after. */
export function lazyError(make: () => Error): () => Error {
  let made: Error | undefined;
  return () => (made ??= make());
}
