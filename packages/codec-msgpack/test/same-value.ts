/**
 * Whether two decoded (or encoded) values are the same in every way a program can see, more
 * strictly than toStrictEqual: -0 is not 0, key order counts, prototypes count, and a byte
 * view must be a view of the same bytes (the decoder returns views, not copies).
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false;
  if (typeof a !== 'object' || a === null || b === null) return Object.is(a, b);
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  if (Object.getPrototypeOf(x) !== Object.getPrototypeOf(y)) return false;
  if (ArrayBuffer.isView(x)) return sameView(x, y as unknown as ArrayBufferView);
  if (x instanceof Date) return Object.is(x.getTime(), (y as unknown as Date).getTime());
  if (x instanceof Map || x instanceof Set) return sameValue([...x], [...(y as unknown as Iterable<unknown>)]);
  if (Array.isArray(x)) {
    if (!Array.isArray(y) || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (i in x !== i in y || !sameValue(x[i], y[i])) return false;
    return true;
  }
  const keys = Object.keys(x);
  const otherKeys = Object.keys(y);
  if (keys.length !== otherKeys.length) return false;
  return keys.every((key, i) => key === otherKeys[i] && sameValue(x[key], y[key]));
}

function sameView(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength;
}
