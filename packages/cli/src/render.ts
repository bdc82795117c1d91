import { RemoteError, RpcError, type Codec } from '@skein/core';
import { inFlagWords } from './flag-words.js';
import { terminalJson, terminalLine } from './terminal-text.js';

/**
 * A decoded value as JSON text. What JSON lacks gets a plain stand-in: bytes become
 * `{"$bytes": "<base64>"}`, big integers their decimal string, Maps objects, Sets arrays.
 * Every control character in a string is escaped, so the text is safe to print on a terminal.
 */
export function renderValue(value: unknown, indent = 2): string {
  if (value === undefined) return 'null';
  return terminalJson(JSON.stringify(value, replacer, indent));
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
 * decode); anything else as its message. The server wrote the detail: its control characters
 * are escaped, so it stays one line and cannot drive the terminal.
 */
export function describeError(err: unknown, codec?: Codec): string {
  return terminalLine(errorText(err, codec));
}

function errorText(err: unknown, codec: Codec | undefined): string {
  if (err instanceof RpcError) {
    const head = `${err.codeName} (${err.wire})`;
    const message = err.downstream ? err.message : inFlagWords(err.message);
    return err.message === err.wire ? head : `${head}: ${message}`;
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
