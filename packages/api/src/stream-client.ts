import { ErrorCode, RemoteError, RpcError, extended, fromDownstream, invalidArgument, type Codec } from '@skein/core';
import type { Caller, CallOptions, Reply, StreamCall, StreamCaller } from '@skein/stream';
import type { AnyMethod } from './define.js';
import { ClientFilterWait, unlessStopped } from './client-filter-wait.js';
import { withStreamKind } from './stream-kind-entry.js';
import { StreamSource } from './stream-source.js';
import { fromBytes, toBytes, type ValueRules } from './value-bytes.js';

/** How a stub turns a stream's error into the error its caller sees (the method's own, or explained). */
type MapError = (err: RpcError | RemoteError) => unknown;

/** A streaming method's client side, made once per method: how its values go out and come in. */
export interface StreamStub {
  readonly kind: NonNullable<AnyMethod['stream']>;
  readonly action: string;
  /** What the client sends: a server stream's argument, else each item. */
  readonly out: ValueRules;
  /** What it receives: each item, or a client stream's result. */
  readonly in: ValueRules;
  readonly mapError: MapError;
}

export function streamStub(m: AnyMethod, action: string, codec: Codec, mapError: MapError): StreamStub {
  const blob = m.blobs === true;
  return {
    kind: m.stream!,
    action,
    out: { codec, blob, schema: m.input, where: `${action}: invalid argument`, code: ErrorCode.InvalidArgument },
    in: { codec, blob, schema: m.output, where: `${action}: invalid result`, code: ErrorCode.Decode },
    mapError,
  };
}

/**
 * One call of a streaming method (stream-methods.ts): opens a stream, sends the argument's
 * values when it is a stream, and gives the server's values back decoded. A server stream (and
 * both ways) resolves once the stream is asked for, with the values to read; a client stream
 * resolves with the result. Any carrier that opens streams will do: a ClientStream or a pool.
 */
export async function callStream(stub: StreamStub, caller: Caller, arg: unknown, opts: CallOptions): Promise<unknown> {
  let s: StreamCall;
  // What the argument's source threw, the stream cancelled with: the caller's own error, passed as it is.
  const source: SourceFailure = {};
  try {
    s = await open(stub, caller as StreamCaller, arg, opts, source);
  } catch (e) {
    // This process's own call refused before it opened (its input schema, its options): about
    // that call, not a request a handler answers (RpcError.downstream), as a unary call's are.
    throw fromDownstream(e);
  }
  const fail = (e: unknown): never => {
    // The wire's errors are explained or decoded as the method's own; the caller's own (its source threw) pass as they are.
    throw e !== source.error && (e instanceof RpcError || e instanceof RemoteError) ? stub.mapError(e) : e;
  };
  if (stub.kind === 'client') return s.result.then((r) => received(stub.in, r), fail);
  return decoded(s, stub, fail);
}

/**
 * Opens the stream: with the argument when the server streams, else with the source's values
 * written after. Its head says which kind of stream it is, for the server to check against its
 * own definition (stream-kind-entry.ts).
 */
async function open(stub: StreamStub, caller: StreamCaller, arg: unknown, opts: CallOptions, source: SourceFailure): Promise<StreamCall> {
  if (typeof caller.openStream !== 'function') {
    throw invalidArgument(`${stub.action}: a streaming method needs a carrier that opens streams (a ClientStream, ConnPool or FailoverPool)`);
  }
  if (stub.kind === 'server') {
    let first = toBytes(stub.out, arg);
    if (first instanceof Promise) {
      // An asynchronous schema is waited for as a unary call's is: the stream's signal (its ctx's
      // too) and timeout end the wait, and the stream is never opened; it opens with what is left.
      const wait = new ClientFilterWait(opts, opts.timeoutMs, { action: stub.action, startedAt: performance.now() }, 'its input schema');
      first = await unlessStopped(first, wait);
      opts = wait.sendOptions();
    }
    const sent = withStreamKind(opts, stub.kind, stub.action);
    return caller.openStream(stub.action, first.msg, first.blob.length === 0 ? sent : extended(sent, { blob: first.blob }));
  }
  const s = caller.openStream(stub.action, undefined, withStreamKind(opts, stub.kind, stub.action));
  void send(s, stub, arg as AsyncIterable<unknown> | Iterable<unknown>, source);
  return s;
}

/** Set when the argument's source threw: that error, which cancelled the stream and goes to the caller as it is. */
interface SourceFailure {
  error?: Error;
}

/**
 * Writes the argument's values, each once the server has room, then ends. A source that throws
 * (or a value that fails its schema) cancels the stream, and the caller sees that error. Once the
 * stream is over (answered, cancelled, timed out), the source is returned at once: one that
 * waits for its next value (an event source) may never yield again, and would keep its
 * listeners, and this loop, for ever.
 */
async function send(s: StreamCall, stub: StreamStub, values: AsyncIterable<unknown> | Iterable<unknown>, failure: SourceFailure): Promise<void> {
  // While the source is read: what throws then is the caller's own, not this client's refusal.
  let reading = false;
  try {
    const source = new StreamSource(values); // inside: a source that is no iterable cancels the stream too
    const stop = (): void => void source.stop();
    s.result.then(stop, stop);
    for (;;) {
      reading = true;
      const r = await source.next();
      reading = false;
      if (r.done === true) break;
      // Bytes made at once (no asynchronous schema) are not awaited: an item costs no turn of its own for them.
      const bytes = toBytes(stub.out, r.value);
      const item = bytes instanceof Promise ? await bytes : bytes;
      await s.write(item.msg, item.blob);
    }
    s.end();
  } catch (e) {
    // After the stream is over (the server answered, or it was cancelled) this does nothing.
    const err = e instanceof Error ? e : new Error(`${stub.action}: the stream's source threw ${String(e)}`, { cause: e });
    if (reading) failure.error = err;
    s.cancel(err);
  }
}

const asItem = (value: unknown): IteratorResult<unknown> => ({ value, done: false });

/**
 * A value the server sent, decoded and checked. Its refusal here (the codec's, the output
 * schema's) is about this process's call, as its input schema's is (RpcError.downstream): a
 * handler passing it on does not speak with its words.
 */
function received(rules: ValueRules, r: Reply): unknown {
  try {
    const value = fromBytes(rules, r.msg, r.blob);
    return value instanceof Promise ? value.catch(ownRefusal) : value;
  } catch (e) {
    return ownRefusal(e);
  }
}

const ownRefusal = (e: unknown): never => {
  throw fromDownstream(e);
};

/** The stream's values, decoded and checked; breaking out of the loop cancels the stream. */
function decoded(s: StreamCall, stub: StreamStub, fail: (e: unknown) => never): AsyncIterable<unknown> {
  return {
    [Symbol.asyncIterator]() {
      const it = s[Symbol.asyncIterator]();
      // A value decoded is one, not awaited: an item costs its read's promise alone, not an async
      // function's, a catch's and an await's besides (only an asynchronous schema waits).
      const item = (r: IteratorResult<Reply>): IteratorResult<unknown> | Promise<IteratorResult<unknown>> => {
        if (r.done) return r;
        try {
          const value = received(stub.in, r.value);
          return value instanceof Promise ? value.then(asItem, cancelWith) : { value, done: false };
        } catch (e) {
          return cancelWith(e);
        }
      };
      // A for-await that throws never calls return(): the stream must not stay open.
      const cancelWith = (e: unknown): never => {
        s.cancel(e as Error);
        throw e;
      };
      return {
        next: () => it.next().then(item, fail),
        return: () => it.return!(),
      };
    },
  };
}
