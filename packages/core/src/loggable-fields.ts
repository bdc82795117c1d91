/**
 * A log line's fields as plain data that any logger can write: cycles as `[Circular]`, bigints
 * as strings, errors as their name and message, a field that cannot be read or written at all
 * (a throwing getter, somewhere inside) as a string saying why; the others as they are. For a
 * line a logger refused: what it says (a failed call's `action` and `peer`) must not go with
 * the one field it choked on. If even the keys cannot be listed (a Proxy's trap), one field
 * says so. Never throws.
 */
export function loggableFields(obj: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  try {
    for (const key of Object.keys(obj)) {
      const text = fieldText(obj, key);
      if (text !== undefined) out[key] = JSON.parse(text) as unknown;
    }
  } catch (err) {
    return { ...out, fieldsNotWritten: why(err) };
  }
  return out;
}

/** One field as JSON (undefined: JSON leaves it out), or a JSON string saying why it cannot be. */
export function fieldText(obj: object, key: string): string | undefined {
  try {
    return JSON.stringify((obj as Record<string, unknown>)[key], jsonSafe());
  } catch (err) {
    return JSON.stringify(`(not written: ${why(err)})`);
  }
}

/** What an error says, or that it says nothing readable. */
export function why(err: unknown): string {
  try {
    return err instanceof Error ? err.message : String(err);
  } catch {
    return 'unreadable error';
  }
}

/**
 * A replacer for one line. It keeps the objects on the path from the root to the value being
 * written (`this` is the value's holder, so the path is cut back to it first): a value already
 * on that path is a cycle. A value seen twice elsewhere is written twice, as JSON would.
 */
export function jsonSafe(): (this: unknown, key: string, value: unknown) => unknown {
  const path: unknown[] = [];
  return function (this: unknown, _key: string, value: unknown): unknown {
    if (typeof value === 'bigint') return value.toString();
    if (value instanceof Error) value = { name: value.name, message: value.message };
    if (typeof value !== 'object' || value === null) return value;
    while (path.length > 0 && path[path.length - 1] !== this) path.pop();
    if (path.includes(value)) return '[Circular]';
    path.push(value);
    return value;
  };
}
