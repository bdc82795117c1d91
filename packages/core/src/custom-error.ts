import { codeFromWire } from './error-code.js';
import { RpcError } from './rpc-error.js';

/**
 * A method's own error as it travels: a number (response flag 1) or bytes (flag 2).
 */
export type ErrorPayload = number | Uint8Array;

/**
 * Turns a method's custom error type into a wire payload and back, so that the client receives an
 * instance it can `instanceof` or switch on. `is` tells the server which thrown values are
 * declared errors (anything else becomes an Internal error).
 */
export interface ErrCodec<E> {
  is(err: unknown): err is E;
  encode(err: E): ErrorPayload;
  decode(payload: ErrorPayload): E;
}

/**
 * A custom error that arrived without an ErrCodec to decode it (the stream layer, or a method
 * that declares none). Holds the raw payload.
 */
export class RemoteError extends Error {
  override readonly name = 'RemoteError';
  constructor(readonly payload: ErrorPayload) {
    super(typeof payload === 'number' ? `remote error ${payload}` : `remote error (${payload.length} bytes)`);
  }
}

type ErrorClass = abstract new (...args: never[]) => Error;
type InstanceOf<M> = { [K in keyof M]: M[K] extends abstract new (...args: never[]) => infer I ? I : never }[keyof M];

/**
 * ErrCodec for errors that travel as numbers: `codeErrors({ 1: DivideByZero })`. Each class
 * must be constructible with no arguments.
 */
export function codeErrors<const M extends Record<number, ErrorClass>>(map: M): ErrCodec<InstanceOf<M>> {
  type E = InstanceOf<M>;
  const entries = Object.entries(map).map(([k, cls]) => [Number(k), cls] as const);
  for (const [code] of entries) {
    if (!Number.isInteger(code) || code < 0 || code > 0xffffffff) {
      throw new RangeError(`codeErrors: ${code} is not a u32 error number`);
    }
  }
  return {
    is: (err: unknown): err is E => entries.some(([, cls]) => err instanceof cls),
    encode(err: E): number {
      // Most derived first: a subclass listed under its own code wins over its base.
      for (const [code, cls] of entries) if ((err as object).constructor === cls) return code;
      for (const [code, cls] of entries) if (err instanceof cls) return code;
      throw new TypeError('codeErrors: not a declared error');
    },
    decode(payload: ErrorPayload): E {
      const cls = typeof payload === 'number' ? entries.find(([c]) => c === payload)?.[1] : undefined;
      if (!cls) throw new RemoteError(payload);
      return new (cls as unknown as new () => E)();
    },
  };
}

const PREFIX = [0x72, 0x70, 0x63, 0x5f]; // "rpc_"
const ESCAPE = 0x00;
const utf8 = new TextDecoder('utf-8', { fatal: false });

function startsWithPrefix(b: Uint8Array): boolean {
  return b.length >= 4 && b[0] === PREFIX[0] && b[1] === PREFIX[1] && b[2] === PREFIX[2] && b[3] === PREFIX[3];
}

/**
 * Bytes to put on the wire for a custom error string. A user payload that starts with `rpc_`
 * (or with the escape byte) is prefixed with one 0x00 byte so that no peer, Skein or razor-rpc,
 * can read it as a built-in error.
 */
export function escapeCustomBytes(bytes: Uint8Array): Uint8Array {
  if (!startsWithPrefix(bytes) && bytes[0] !== ESCAPE) return bytes;
  const out = new Uint8Array(bytes.length + 1);
  out[0] = ESCAPE;
  out.set(bytes, 1);
  return out;
}

const COLON = 0x3a;
const MAX_DETAIL = 1024;

/**
 * Reads a flag-2 error string: a built-in RpcError, or the custom payload (unescaped). A built-in
 * string may carry a detail after a colon (`rpc_invalid_argument:add: a: expected number`),
 * which becomes the error's message; Skein sends details only for its own codes unless told to.
 */
export function readErrorBytes(bytes: Uint8Array): RpcError | Uint8Array {
  if (bytes[0] === ESCAPE) return bytes.subarray(1);
  if (!startsWithPrefix(bytes)) return bytes;
  const colon = bytes.indexOf(COLON);
  const name = bytes.subarray(0, colon < 0 ? bytes.length : colon);
  const code = name.length <= 32 ? codeFromWire(utf8.decode(name)) : undefined;
  if (code === undefined) return bytes;
  return new RpcError(code, colon < 0 ? undefined : utf8.decode(bytes.subarray(colon + 1)));
}

/** The wire string of a built-in error, with an optional detail (truncated to 1 KiB). */
export function builtinErrorBytes(wire: string, detail?: string): Uint8Array {
  if (!detail) return encoder.encode(wire);
  const d = detail.length > MAX_DETAIL ? detail.slice(0, MAX_DETAIL) : detail;
  return encoder.encode(`${wire}:${d}`);
}

const encoder = new TextEncoder();
