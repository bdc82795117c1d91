import { expect } from 'vitest';

/**
 * Comparing what two implementations did with the same input (a codec's fast path against the
 * library it stands in for): the values they gave back, or the errors they threw.
 */

/**
 * How byte arrays compare: `'views'`, only a view of the same bytes of the same buffer (for a
 * decoder that returns views into its input, not copies); `'contents'`, the same bytes anywhere;
 * `{ copiedUpTo: n }`, arrays of up to n bytes as two copies (the same bytes, each the whole of a
 * buffer of its own) or as `'views'`, longer ones as `'views'` (for a decoder that copies short
 * byte strings only, and may leave some views: an extension's payload).
 */
export type BytesCompared = 'views' | 'contents' | { readonly copiedUpTo: number };

/**
 * Whether two decoded (or encoded) values are the same in every way a program can see, more
 * strictly than toStrictEqual: -0 is not 0, key order counts, prototypes count, holes count.
 */
export function sameValue(a: unknown, b: unknown, bytes: BytesCompared = 'views'): boolean {
  if (typeof a !== typeof b) return false;
  if (typeof a !== 'object' || a === null || b === null) return Object.is(a, b);
  const x = a as Record<string, unknown>;
  const y = b as Record<string, unknown>;
  if (Object.getPrototypeOf(x) !== Object.getPrototypeOf(y)) return false;
  if (ArrayBuffer.isView(x)) return sameBytes(x, y as unknown as ArrayBufferView, bytes);
  if (x instanceof Date) return Object.is(x.getTime(), (y as unknown as Date).getTime());
  if (x instanceof Map || x instanceof Set) return sameValue([...x], [...(y as unknown as Iterable<unknown>)], bytes);
  if (Array.isArray(x)) {
    if (!Array.isArray(y) || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (i in x !== i in y || !sameValue(x[i], y[i], bytes)) return false;
    return true;
  }
  const keys = Object.keys(x);
  const otherKeys = Object.keys(y);
  if (keys.length !== otherKeys.length) return false;
  return keys.every((key, i) => key === otherKeys[i] && sameValue(x[key], y[key], bytes));
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView, bytes: BytesCompared): boolean {
  if (bytes === 'views') return sameView(a, b);
  if (bytes === 'contents') return sameContents(a, b);
  if (sameView(a, b)) return true;
  if (a.byteLength > bytes.copiedUpTo) return false;
  return ownsBuffer(a) && ownsBuffer(b) && a.buffer !== b.buffer && sameContents(a, b);
}

/** A copy's own buffer, not a view of a larger one (a message it was read from). */
const ownsBuffer = (a: ArrayBufferView): boolean => a.byteOffset === 0 && a.buffer.byteLength === a.byteLength;

function sameView(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return a.buffer === b.buffer && a.byteOffset === b.byteOffset && a.byteLength === b.byteLength;
}

function sameContents(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return hex(a) === hex(b);
}

/**
 * That a fast encoder wrote `expected`, the library's bytes for `value`, to the byte; or left the
 * value to the library (null) only where its encoding is over `nullAbove` bytes (a fast path
 * that reserves room ahead gives up near its size limit).
 */
export function expectSameBytes(what: string, value: unknown, bytes: Uint8Array | null, expected: Uint8Array, nullAbove: number): void {
  if (bytes === null ? expected.length > nullAbove : hex(bytes) === hex(expected)) return;
  expect.fail(`${what} ${show(value)}: fast ${bytes && hex(bytes).slice(0, 200)}, library ${hex(expected).slice(0, 200)}`);
}

/** What a run gave: its value, or its error as `code message`. */
export type Outcome = { value: unknown } | { error: string };

export function outcome(run: () => unknown): Outcome {
  try {
    return { value: run() };
  } catch (e) {
    const error = e as { code?: unknown; message?: unknown };
    return { error: `${String(error.code)} ${String(error.message)}` };
  }
}

/** The same error, the same bytes (an encoder's output, wherever it lies), or the same value. */
export function sameOutcome(a: Outcome, b: Outcome, bytes: BytesCompared = 'views'): boolean {
  if ('error' in a || 'error' in b) return 'error' in a && 'error' in b && a.error === b.error;
  const [x, y] = [a.value, b.value];
  return x instanceof Uint8Array && y instanceof Uint8Array ? hex(x) === hex(y) : sameValue(x, y, bytes);
}

export const hex = (bytes: ArrayBufferView): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');

/** A value (or outcome) for a failure message: JSON, bigints as `5n`, bytes as hex, cut at 300 characters. */
export const show = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? hex(v) : v))?.slice(0, 300) ?? String(value);
