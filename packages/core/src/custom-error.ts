import { invalidArgument } from './rpc-error.js';
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
      throw invalidArgument(`codeErrors: ${code} is not a u32 error number`);
    }
  }
  // Each declared class's prototype and its code (the first, should one class have two).
  const codes = new Map<object, number>();
  for (const [code, cls] of entries) if (!codes.has(cls.prototype)) codes.set(cls.prototype, code);
  return {
    is: (err: unknown): err is E => entries.some(([, cls]) => err instanceof cls),
    encode(err: E): number {
      // The nearest declared class up the error's prototype chain, whatever the codes' order:
      // an undeclared subclass of a declared subclass travels as that subclass, not as its base.
      for (let proto = Object.getPrototypeOf(err) as object | null; proto !== null; proto = Object.getPrototypeOf(proto) as object | null) {
        const code = codes.get(proto);
        if (code !== undefined) return code;
      }
      throw invalidArgument('codeErrors: not a declared error');
    },
    decode(payload: ErrorPayload): E {
      const cls = typeof payload === 'number' ? entries.find(([c]) => c === payload)?.[1] : undefined;
      if (!cls) throw new RemoteError(payload);
      return new (cls as unknown as new () => E)();
    },
  };
}
