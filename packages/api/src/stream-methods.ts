import type { StandardSchemaV1 } from '@standard-schema/spec';
import { buildMethod, type Infer, type InferIn, type MethodBuilder, type MethodDef } from './define.js';

/**
 * Streaming methods, declared beside unary ones. The stream is in the types the way a value is:
 * a server stream's result is an `AsyncIterable` (the handler is an async generator; the client
 * awaits the call and reads with `for await`), a client stream's argument is one (the client
 * passes any iterable or async generator; the handler reads with `for await`), and both ways,
 * both. They travel as stream-layer streams (docs/protocol.md, "Streams"), so each direction
 * is held to its reader's pace, and need a server that agreed streams (else Version).
 */

/**
 * Schemas for a streaming method's values: `input` checks what the client sends (the argument
 * of a server stream, else each item it writes), `output` what the server sends (each item, or
 * a client stream's result). Each side checks what it sends and what it receives, as a unary
 * call does.
 */
export interface StreamSchemas<In, Out> {
  input?: StandardSchemaV1<unknown, In> | undefined;
  output?: StandardSchemaV1<unknown, Out> | undefined;
}

/**
 * Schemas alone, no type arguments: each side's types come from them as a unary method's do
 * (`method({ input, output })`): the client passes the input schema's input (a default may be
 * left out) and the handler gets its output; the handler yields the output schema's input and
 * the client reads its output. A schema left out types its values `unknown`.
 */
interface Schemas<I, O> {
  input?: I;
  output?: O;
}
type Opt = StandardSchemaV1 | undefined;
/**
 * What goes into a side's schema (the client's argument or items, a handler's items): its input
 * type; a schema typed by its output alone (`StreamSchemas<In, Out>`'s `StandardSchemaV1<unknown,
 * In>`) takes its output type, as these builders always gave it, not `unknown`.
 */
type InferSent<S> = unknown extends InferIn<S> ? Infer<S> : InferIn<S>;

/** A method whose result is a stream of `Item`s. */
export function serverStream<I extends Opt = undefined, O extends Opt = undefined>(
  schemas: Schemas<I, O>,
): MethodBuilder<Infer<I>, AsyncIterable<Infer<O>>, never, InferSent<I>, AsyncIterable<InferSent<O>>>;
export function serverStream<A, Item>(schemas?: StreamSchemas<A, Item>): MethodBuilder<A, AsyncIterable<Item>, never>;
export function serverStream(schemas: StreamSchemas<unknown, unknown> = {}): MethodBuilder<unknown, AsyncIterable<unknown>, never> {
  return streaming(schemas, 'server');
}

/** A method whose argument is a stream of `Item`s and whose result is one `R`. */
export function clientStream<I extends Opt = undefined, O extends Opt = undefined>(
  schemas: Schemas<I, O>,
): MethodBuilder<AsyncIterable<Infer<I>>, Infer<O>, never, AsyncIterable<InferSent<I>>, InferSent<O>>;
export function clientStream<Item, R>(schemas?: StreamSchemas<Item, R>): MethodBuilder<AsyncIterable<Item>, R, never>;
export function clientStream(schemas: StreamSchemas<unknown, unknown> = {}): MethodBuilder<AsyncIterable<unknown>, unknown, never> {
  return streaming(schemas, 'client');
}

/** A method with a stream each way: `In`s from the client, `Out`s from the server. */
export function bidiStream<I extends Opt = undefined, O extends Opt = undefined>(
  schemas: Schemas<I, O>,
): MethodBuilder<AsyncIterable<Infer<I>>, AsyncIterable<Infer<O>>, never, AsyncIterable<InferSent<I>>, AsyncIterable<InferSent<O>>>;
export function bidiStream<In, Out>(schemas?: StreamSchemas<In, Out>): MethodBuilder<AsyncIterable<In>, AsyncIterable<Out>, never>;
export function bidiStream(schemas: StreamSchemas<unknown, unknown> = {}): MethodBuilder<AsyncIterable<unknown>, AsyncIterable<unknown>, never> {
  return streaming(schemas, 'both');
}

// A stream's schemas check its items, not the iterable: the def's schema types say the value.
function streaming<A, R>(schemas: StreamSchemas<unknown, unknown>, stream: MethodDef['stream']): MethodBuilder<A, R, never> {
  const def = { input: schemas.input, output: schemas.output, errors: undefined, isIdempotent: false, stream };
  return buildMethod(def as MethodDef<A, R, never>);
}
