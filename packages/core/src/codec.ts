import { ErrorCode } from './error-code.js';
import { RpcError } from './rpc-error.js';

/**
 * Turns values into bytes and back. Both sides of a connection must use the same codec.
 * `encode` throws RpcError(Encode) on a value it cannot represent; `decode` throws
 * RpcError(Decode) on bytes it cannot read — never anything else.
 */
export interface Codec {
  /** Stable name, for logs and benchmarks: `msgpack`, `cbor`. */
  readonly name: string;
  encode(value: unknown): Uint8Array;
  decode(bytes: Uint8Array): unknown;
}

/** Wraps a library's encode so every failure is an RpcError(Encode). */
export function encodeError(codec: string, cause: unknown): RpcError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new RpcError(ErrorCode.Encode, `${codec}: cannot encode: ${why}`, { cause });
}

/** Wraps a library's decode so every failure is an RpcError(Decode). */
export function decodeError(codec: string, cause: unknown): RpcError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new RpcError(ErrorCode.Decode, `${codec}: cannot decode: ${why}`, { cause });
}
