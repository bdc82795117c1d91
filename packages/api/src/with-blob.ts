import { EMPTY_BYTES, ErrorCode, RpcError } from '@skein/core';

/**
 * A value with bulk bytes beside it: what a method declared `.blob()` takes and gives (its
 * argument, its result, each item of its streams). The value goes through the codec; the blob
 * travels as it is, in the frame's blob section, never copied into the message nor encoded.
 */
export interface WithBlob<T> {
  readonly value: T;
  readonly blob: Uint8Array;
}

/** A value and its bytes, for a `.blob()` method: `return withBlob({ name }, bytes)`. */
export function withBlob<T>(value: T, blob: Uint8Array = EMPTY_BYTES): WithBlob<T> {
  return { value, blob };
}

/**
 * The types of a `.blob()` method: each value becomes a `WithBlob`, and so does each item of a
 * stream (a stream's values are its items).
 */
export type Blobbed<T> = T extends AsyncIterable<infer I> ? AsyncIterable<WithBlob<I>> : WithBlob<T>;

/**
 * @internal What a `.blob()` method was given, checked: its value and its bytes (undefined:
 * none). A bare value (no `withBlob`) is refused, not sent as nothing. `code`: whose fault it is,
 * the caller's (InvalidArgument, the default) or, for what a handler returned, the server's
 * (Internal: a client must not read its own argument as the cause).
 */
export function splitBlob(v: unknown, where: string, code: ErrorCode = ErrorCode.InvalidArgument): WithBlob<unknown> {
  if (v === undefined || v === null) return withBlob(undefined);
  if (typeof v !== 'object' || !('value' in v || 'blob' in v)) throw new RpcError(code, `${where}: a .blob() method takes withBlob(value, bytes), got a bare value`);
  const { value, blob = EMPTY_BYTES } = v as Partial<WithBlob<unknown>>;
  if (!(blob instanceof Uint8Array)) throw new RpcError(code, `${where}: a .blob() method takes withBlob(value, bytes), and the bytes must be a Uint8Array`);
  return withBlob(value, blob);
}
