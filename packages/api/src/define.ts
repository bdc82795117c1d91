import { invalidArgument, type ErrCodec } from '@skein/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { Blobbed } from './with-blob.js';

/**
 * One method of a service: argument type A, result type R, custom error type E. The types live
 * only in the type system (tRPC style); at run time a method holds its optional schemas, error
 * codec and flags. A schema checks a value where it is sent and again where it arrives, and may
 * fill it in (a default): the client passes CA (the input schema's input type) and the handler
 * gets A (its output type); the handler returns HR (the output schema's input type) and the
 * client gets R. Without schemas CA is A and HR is R.
 */
export interface MethodDef<A = unknown, R = unknown, E = never, CA = A, HR = R> {
  readonly input: StandardSchemaV1<unknown, A> | undefined;
  readonly output: StandardSchemaV1<unknown, R> | undefined;
  readonly errors: ErrCodec<E> | undefined;
  /** Safe to run twice: a pool may retry it after a timeout or a lost connection. */
  readonly isIdempotent: boolean;
  /** A streaming method (stream-methods.ts): which side sends a stream of values. Undefined: a unary call. */
  readonly stream?: StreamKind;
  /** Declared `.blob()`: every value (argument, result, stream item) is a `WithBlob`, its bytes in the frame's blob section. */
  readonly blobs?: boolean;
  /** Phantom field carrying the types; never set. */
  readonly _types?: { arg: A; result: R; error: E; clientArg: CA; handlerResult: HR };
}

/** A method definition that can still be refined; `B`: declared `.blob()` already. */
export interface MethodBuilder<A, R, E, CA = A, HR = R, B extends boolean = false> extends MethodDef<A, R, E, CA, HR> {
  /** Declares the method's own error type and how it travels. */
  throws<E2>(codec: ErrCodec<E2>): MethodBuilder<A, R, E2, CA, HR, B>;
  /** Declares the method idempotent (pools may retry it when it may have run). */
  idempotent(): MethodBuilder<A, R, E, CA, HR, B>;
  /**
   * Declares that the method's values carry bytes beside them: its argument, its result and each
   * stream item are `WithBlob`s (`withBlob(value, bytes)`), the bytes sent as they are, in the
   * frame's blob section (a file, an image), never through the codec. Schemas check the values.
   * Declared twice, a value still carries one blob, as it does at run time.
   */
  blob(): BlobBuilder<A, R, E, CA, HR, B>;
}

/** What `.blob()` gives: the values become `WithBlob`s once (a method already declared so stays as it is). */
type BlobBuilder<A, R, E, CA, HR, B extends boolean> = B extends true
  ? MethodBuilder<A, R, E, CA, HR, true>
  : MethodBuilder<Blobbed<A>, Blobbed<R>, E, Blobbed<CA>, Blobbed<HR>, true>;

/** `server`: the result is a stream; `client`: the argument is; `both`: both are. */
export type StreamKind = 'server' | 'client' | 'both';

/** A schema's output type (unknown without one); also for the streaming builders (not a package export). */
export type Infer<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferOutput<S> : unknown;
/** A schema's input type (unknown without one). */
export type InferIn<S> = S extends StandardSchemaV1 ? StandardSchemaV1.InferInput<S> : unknown;

/**
 * Declares a method. Either with types only — `method<{ a: number }, number>()` — or with
 * Standard Schemas (zod, valibot, arktype...) that validate and give the types:
 * `method({ input: z.object({ a: z.number() }), output: z.number() })`.
 */
export function method<A, R>(): MethodBuilder<A, R, never>;
export function method<I extends StandardSchemaV1, O extends StandardSchemaV1 | undefined = undefined>(schemas: {
  input: I;
  output?: O;
}): MethodBuilder<
  Infer<I>,
  O extends StandardSchemaV1 ? Infer<O> : unknown,
  never,
  InferIn<I>,
  O extends StandardSchemaV1 ? InferIn<O> : unknown
>;
export function method(schemas?: { input?: StandardSchemaV1; output?: StandardSchemaV1 }): MethodBuilder<unknown, unknown, never> {
  return build({ input: schemas?.input, output: schemas?.output, errors: undefined, isIdempotent: false });
}

/** @internal For the streaming builders. */
export function buildMethod<A, R, E>(def: MethodDef<A, R, E>): MethodBuilder<A, R, E> {
  return build(def);
}

function build<A, R, E, CA = A, HR = R, B extends boolean = false>(def: MethodDef<A, R, E, CA, HR>): MethodBuilder<A, R, E, CA, HR, B> {
  const { input, output, isIdempotent, stream, blobs } = def;
  return Object.freeze({
    ...def,
    throws: <E2>(codec: ErrCodec<E2>) => build<A, R, E2, CA, HR, B>({ input, output, isIdempotent, stream, blobs, errors: codec }),
    idempotent: () => build<A, R, E, CA, HR, B>({ ...def, isIdempotent: true }),
    // The schemas check the values inside the WithBlobs: the same schemas, typed for the values.
    // A flag, so a second `.blob()` changes nothing: one blob a value (BlobBuilder says so too).
    blob: () => build({ ...def, blobs: true }) as unknown as BlobBuilder<A, R, E, CA, HR, B>,
  });
}

// `any` here only widens the constraint; each service keeps its exact method types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyMethod = MethodDef<any, any, any>;
export type MethodMap = Record<string, AnyMethod>;

export interface ServiceDef<N extends string = string, M extends MethodMap = MethodMap> {
  readonly name: N;
  readonly methods: M;
}

// Read from the phantom field alone: each type appears there once.
/** The argument a handler gets. */
export type ArgOf<M> = M extends { readonly _types?: { arg: infer A } } ? A : never;
/** The result a client gets. */
export type ResultOf<M> = M extends { readonly _types?: { result: infer R } } ? R : never;
export type ErrorOf<M> = M extends { readonly _types?: { error: infer E } } ? E : never;
type IsAny<T> = 0 extends 1 & T ? true : false;
/** A stream's side: an AsyncIterable (an `any` is not taken for one). Not a package export. */
export type IsStream<T> = IsAny<T> extends true ? false : [T] extends [AsyncIterable<unknown>] ? true : false;
/**
 * The method's own errors a client's call rejects with, and its `.result()` resolves with: its
 * declared ones (`.throws`) where the call waits for the server's answer (a unary call, a client
 * stream); none where its result is a stream (a server or bidi stream), which it gives at once,
 * before the server says anything: the handler's declared error, even one thrown before its first
 * item, ends the stream and is thrown by its iterator, inside the `for await`.
 */
export type OpenErrorOf<M> = IsStream<ResultOf<M>> extends true ? never : ErrorOf<M>;
/**
 * The argument a client passes: the input schema's input type (a field with a default may be left
 * out); for a stream of items, any iterable of them, sync or async (an array, a generator), as
 * `for await` walks either (StreamSource).
 */
export type ClientArgOf<M> = M extends { readonly _types?: { clientArg: infer CA } } ? ItemSource<CA> : never;
// Distributes: a value of a union type stays that union. Only a stream's side is an AsyncIterable
// (a codec cannot carry one), so a unary value is never taken for one.
type ItemSource<T> = T extends AsyncIterable<infer I> ? AsyncIterable<I> | Iterable<I> : T;
/** What a handler returns: the output schema's input type. */
export type HandlerResultOf<M> = M extends { readonly _types?: { handlerResult: infer HR } } ? HR : never;

const NAME = /^[A-Za-z_][\w-]*$/;

/**
 * A key named `then` makes the object holding it a thenable: `await client`, or an async function
 * that returns a stub, would call the method with the promise's settle functions and never
 * settle. A stub's methods are such keys, so the name is refused where it is declared, as tRPC
 * refuses it in a router; a service's too (a cluster holds its services under their names).
 */
const THENABLE = 'a client holding it would be a thenable: awaiting the client would call it';

type Reserved = `"then" is reserved: ${typeof THENABLE}`;
/**
 * Methods as `service()` takes them: one named `then` fails to compile, as it is refused at run
 * time. A service name gets no such type: no conditional type over the name lets a generic `N`
 * through (a helper building services from a name), so `then` there is refused at run time only.
 */
type NoThen = { readonly then?: Reserved };

/**
 * Declares a service: a name and its methods. The same object drives `implement` on the server
 * and `createClient` on the client. On the wire a call's action is `"Service.method"`.
 */
export function service<const N extends string, M extends MethodMap>(name: N, methods: M & NoThen): ServiceDef<N, M> {
  checkName('service', name);
  for (const m of Object.keys(methods)) checkName('method', m);
  return Object.freeze({ name, methods: Object.freeze({ ...methods }) });
}

/** Refuses a service or method name a call cannot carry or a client cannot hold. */
function checkName(kind: 'service' | 'method', name: string): void {
  if (!NAME.test(name)) throw invalidArgument(`${kind} name ${JSON.stringify(name)} must be an identifier (no dots)`);
  refuseThen(kind, name);
}

/** @internal Also for `createClient`, which may get a definition made without `service()`. */
export function refuseThen(kind: 'service' | 'method', name: string): void {
  if (name === 'then') throw invalidArgument(`${kind} name "then" is reserved: ${THENABLE}`);
}
