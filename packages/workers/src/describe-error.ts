/** An error in words a log line or a message to another thread can carry: its class and message. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  try {
    return String(err);
  } catch {
    return 'a value that has no string form'; // Object.create(null), say: a report must not throw
  }
}
