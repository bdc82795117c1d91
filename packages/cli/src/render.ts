import { RemoteError, RpcError, type Codec } from '@skein/core';

/**
 * A decoded value as JSON text. What JSON lacks gets a plain stand-in: bytes become
 * `{"$bytes": "<base64>"}`, big integers their decimal string, Maps objects, Sets arrays.
 */
export function renderValue(value: unknown, indent = 2): string {
  if (value === undefined) return 'null';
  return JSON.stringify(value, replacer, indent);
}

function replacer(this: unknown, _key: string, v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return { $bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), x]));
  if (v instanceof Set) return [...v];
  return v;
}

/**
 * One line for a failed call: a built-in error as its code name, wire string and message; a
 * method's own error as its number, or its payload decoded with the codec (hex if it does not
 * decode); anything else as its message.
 */
export function describeError(err: unknown, codec?: Codec): string {
  if (err instanceof RpcError) {
    const head = `${err.codeName} (${err.wire})`;
    return err.message === err.wire ? head : `${head}: ${err.message}`;
  }
  if (err instanceof RemoteError) return `custom error ${customPayload(err, codec)}`;
  return err instanceof Error ? err.message : String(err);
}

function customPayload(err: RemoteError, codec: Codec | undefined): string {
  const { payload } = err;
  if (typeof payload === 'number') return String(payload);
  if (codec) {
    try {
      return renderValue(codec.decode(payload), 0);
    } catch {
      // Not in the codec: shown raw below.
    }
  }
  return `(${payload.length} bytes${codec ? `, not ${codec.name}` : ''}) ${Buffer.from(payload).toString('hex')}`;
}
