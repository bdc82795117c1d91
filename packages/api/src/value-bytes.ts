import { EMPTY_BYTES, RpcError, encodeError, type Codec, type ErrorCode } from '@skein/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { validate } from './schema.js';
import { splitBlob, withBlob } from './with-blob.js';

/**
 * How one side of a method turns its values into bytes and back: the codec, the schema that
 * checks each value (and the error a bad one fails with), and for a `.blob()` method the bytes
 * beside it. Made once per method and direction; what stream items go through (a unary call
 * keeps its own leaner path).
 */
export interface ValueRules {
  readonly codec: Codec;
  readonly blob: boolean;
  readonly schema: StandardSchemaV1 | undefined;
  /** What a value that fails the schema is called (`Feed.count: invalid argument`), and its code. */
  readonly where: string;
  readonly code: ErrorCode;
}

/** A value's bytes: its message (the codec's) and its blob. */
export interface ValueBytes {
  readonly msg: Uint8Array;
  readonly blob: Uint8Array;
}

/** A value as it goes out. Async only when the schema is. */
export function toBytes(rules: ValueRules, v: unknown): ValueBytes | Promise<ValueBytes> {
  const { value, blob } = rules.blob ? splitBlob(v, rules.where, rules.code) : withBlob(v);
  if (!rules.schema) return { msg: encode(rules.codec, value), blob };
  const checked = validate(rules.schema, value, rules.where, rules.code);
  return checked instanceof Promise ? checked.then((c) => ({ msg: encode(rules.codec, c), blob })) : { msg: encode(rules.codec, checked), blob };
}

/** A value as it came in: decoded, checked, with its blob for a `.blob()` method. */
export function fromBytes(rules: ValueRules, msg: Uint8Array, blob: Uint8Array): unknown {
  const value = msg.length === 0 ? undefined : rules.codec.decode(msg);
  if (!rules.schema) return rules.blob ? withBlob(value, blob) : value;
  const checked = validate(rules.schema, value, rules.where, rules.code);
  if (!rules.blob) return checked;
  return checked instanceof Promise ? checked.then((c) => withBlob(c, blob)) : withBlob(checked, blob);
}

function encode(codec: Codec, value: unknown): Uint8Array {
  if (value === undefined) return EMPTY_BYTES;
  try {
    return codec.encode(value);
  } catch (e) {
    throw e instanceof RpcError ? e : encodeError(codec.name, e);
  }
}
