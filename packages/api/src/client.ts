import { EMPTY_BYTES, ErrorCode, RemoteError, RpcError, encodeError, fromDownstream, guardedLogger, silentLogger, type Codec, type Logger } from '@skein/core';
import type { Caller, CallOptions, Metadata, Reply } from '@skein/stream';
import type { CallContext } from './context.js';
import { inherit, type Inherited } from './inherited-options.js';
import { callStream, streamStub } from './stream-client.js';
import { splitBlob, withBlob } from './with-blob.js';
import { refuseThen, type AnyMethod, type ClientArgOf, type ErrorOf, type ResultOf, type ServiceDef } from './define.js';
import { explained, named, undecodableFirstReply } from './error-hints.js';
import { callInfo, withFilters, type Filter } from './filters.js';
import { validate } from './schema.js';
import { ClientFilterWait, unlessStopped } from './client-filter-wait.js';
import { unheededOption } from './unheeded-options.js';

export interface ClientOptions {
  codec: Codec;
  /** Default timeout for every call of this client (else the caller's default). */
  timeoutMs?: number;
  logger?: Logger;
  /** Before/after hooks around every call of this client (see Filter). */
  filters?: readonly Filter[];
}

/**
 * What a stub call takes. Not `idempotent` nor `blob` (CallOptions for a raw Caller): those are
 * the method's definition's (`.idempotent()`, `.blob()`), and a call that passes one anyway (plain
 * JS, a pool call's CallOptions reused) is refused with InvalidArgument rather than ignored.
 */
export interface MethodCallOptions {
  timeoutMs?: number;
  /** Aborting rejects the call at once with Cancelled and frees its window slot. */
  signal?: AbortSignal;
  /** For pools: the key a route function or consistent hash picks a server by. */
  route?: string;
  /** Small key/value entries the server reads as `ctx.metadata` (a bearer token, a trace context). */
  metadata?: Metadata;
  /**
   * For a ConnPool (as `route` is for pools): while it cannot reach its server, fail at once with
   * Unreachable (`retry: 'safe'`) instead of waiting out its connect budget. A FailoverPool
   * decides this per attempt itself; a ClientStream has no budget and ignores it.
   */
  failFast?: boolean;
  /**
   * The context of the handler this call is made from: the call takes what is left of that
   * call's deadline (with `timeoutMs`, the shorter) and is cancelled when it is.
   */
  ctx?: CallContext;
}

/** Every way a call can fail: the method's own error, a built-in RpcError, or an undeclared remote error. */
export type CallError<E> = E | RpcError | RemoteError;
export type Result<R, E> = { ok: true; value: R } | { ok: false; error: CallError<E> };

/**
 * A stub call's parameters: an argument that may be undefined (`method<void, R>()`, an optional
 * schema) may be left out, as tRPC's optional input may; it travels as the empty message either way.
 */
export type CallArgs<A> = undefined extends A ? [arg?: A, opts?: MethodCallOptions] : [arg: A, opts?: MethodCallOptions];

export interface ClientMethod<M extends AnyMethod> {
  /** Calls the method; rejects with `CallError<ErrorOf<M>>`. */
  (...args: CallArgs<ClientArgOf<M>>): Promise<ResultOf<M>>;
  /** Calls the method and never rejects: the error comes back typed. */
  result(...args: CallArgs<ClientArgOf<M>>): Promise<Result<ResultOf<M>, ErrorOf<M>>>;
}

export type Client<S extends ServiceDef> = { readonly [K in keyof S['methods']]: ClientMethod<S['methods'][K]> };

/** Shared by calls made without options: no object per call. Frozen, so nothing below can change it. */
const NO_OPTIONS: MethodCallOptions = Object.freeze({});

/**
 * One executor for every call's promise: it leaves the promise's settle functions here, and the
 * call takes them at once (the executor runs inside the Promise constructor) and clears them, so
 * no promise is kept alive here. A closure per call would cost an allocation per call.
 */
const settlers: { resolve: (v: unknown) => void; reject: (e: unknown) => void } = { resolve: noop, reject: noop };
function captureSettlers(resolve: (v: unknown) => void, reject: (e: unknown) => void): void {
  settlers.resolve = resolve;
  settlers.reject = reject;
}

function noop(): void {}

/** A typed stub for `def` over any Caller (a ClientStream, a pool). */
export function createClient<S extends ServiceDef>(def: S, caller: Caller, opts: ClientOptions): Client<S> {
  const stub: Record<string, unknown> = {};
  const replies: ReplyState = { decoded: false };
  for (const [name, m] of Object.entries(def.methods)) {
    // A definition made without `service()` is checked here: a stub must never be a thenable.
    refuseThen('method', name);
    stub[name] = clientMethod(def.name, name, m, caller, opts, replies);
  }
  return Object.freeze(stub) as Client<S>;
}

/** Whether any reply to this client has decoded yet: until one has, a reply that does not is most likely a codec mismatch. */
interface ReplyState {
  decoded: boolean;
}

function clientMethod(service: string, name: string, m: AnyMethod, caller: Caller, opts: ClientOptions, replies: ReplyState): ClientMethod<AnyMethod> {
  const { codec } = opts;
  const action = `${service}.${name}`;
  const filters = opts.filters ?? [];
  const needsOwnOptions = m.isIdempotent;
  // Its lines are written on the way to a call's outcome: one the logger cannot write must not stop it.
  const logger = guardedLogger(opts.logger ?? silentLogger);
  const badArgument = `${action}: invalid argument`;
  const badResult = `${action}: invalid result`;
  const ownOptions = (o: MethodCallOptions): CallOptions => ({
    timeoutMs: o.timeoutMs ?? opts.timeoutMs,
    signal: o.signal,
    route: o.route,
    idempotent: m.isIdempotent,
    metadata: o.metadata,
    failFast: o.failFast,
  });
  // What a call without options of its own sends, made once.
  const defaultOptions: CallOptions = Object.freeze(ownOptions(NO_OPTIONS));

  const decodeReply = (reply: Reply): unknown => {
    if (reply.msg.length === 0) return undefined; // razor: an empty reply is the unit value
    let value: unknown;
    try {
      value = codec.decode(reply.msg);
    } catch (e) {
      throw replies.decoded ? e : undecodableFirstReply(action, codec.name, e);
    }
    if (!replies.decoded) replies.decoded = true;
    return value;
  };

  // What the stub itself refuses or a Caller throws: about this process's call (RpcError.downstream), named.
  const failed = (e: unknown): unknown => named(fromDownstream(e), action);

  const mapError = (err: RpcError | RemoteError): unknown => {
    // Named here, where every error from the wire passes: a bare `rpc_io_err` says nothing of which call failed.
    // Marked (RpcError.downstream) whatever Caller carried it: a handler passing it on does not speak with it.
    if (err instanceof RpcError) return named(explained(fromDownstream(err), action, codec.name, replies.decoded), action);
    if (!m.errors) return named(err, action);
    try {
      return m.errors.decode(err.payload);
    } catch (e) {
      logger.warn({ action, payload: err.payload }, 'undeclared custom error');
      return e instanceof Error ? e : err;
    }
  };

  const send = (arg: unknown, o: MethodCallOptions, resolve: (v: unknown) => void, reject: (e: unknown) => void, blob?: Uint8Array): void => {
    let msg: Uint8Array;
    try {
      msg = arg === undefined ? EMPTY_BYTES : codec.encode(arg);
    } catch (e) {
      return reject(failed(e instanceof RpcError ? e : encodeError(codec.name, e)));
    }
    // The caller's own options object goes through as it is unless something must be added:
    // one object less per call on the common path. One that says `idempotent` or `blob` never
    // gets here (refused in `begin`): the method's definition alone says those.
    const mustAdd = needsOwnOptions || (o.timeoutMs === undefined && opts.timeoutMs !== undefined);
    let callOpts: CallOptions = !mustAdd ? o : o === NO_OPTIONS ? defaultOptions : ownOptions(o);
    let release = noop;
    if (o.ctx !== undefined) {
      try {
        ({ opts: callOpts, release } = inherit(callOpts, o.ctx));
      } catch (e) {
        return reject(failed(e));
      }
    }
    if (blob !== undefined && blob.length !== 0) callOpts = { ...callOpts, blob };
    try {
      caller.send(action, msg, callOpts, (err, reply) => {
        release();
        if (err) return reject(mapError(err));
        let value: unknown;
        try {
          value = decodeReply(reply!);
        } catch (e) {
          return reject(failed(e));
        }
        const done = m.blobs ? (v: unknown) => resolve(withBlob(v, reply!.blob)) : resolve;
        if (!m.output) return done(value);
        try {
          const checked = validate(m.output, value, badResult, ErrorCode.Decode);
          if (checked instanceof Promise) checked.then(done, reject);
          else done(checked);
        } catch (e) {
          reject(e);
        }
      });
    } catch (e) {
      // A Caller that throws: the call is over, and so is its link. Rejected here, not thrown:
      // after an asynchronous schema this runs in a `then`, where a throw reached nobody.
      release();
      reject(failed(e));
    }
  };

  // An asynchronous input schema is waited for as a filter is: the call's signal, its ctx and
  // its timeout (counted from here, and the call sent with what is left) end it, never sent.
  const waitForSchema = (checked: Promise<unknown>, o: MethodCallOptions, blob: Uint8Array | undefined, resolve: (v: unknown) => void, reject: (e: unknown) => void): void => {
    const wait = new ClientFilterWait(o, o.timeoutMs ?? opts.timeoutMs, { action, startedAt: performance.now() }, 'its input schema');
    // Its refusal (or the wait's end) is about this process's call, as a synchronous schema's is.
    unlessStopped(checked, wait).then((v) => send(v, wait.sendOptions(), resolve, reject, blob), (e: unknown) => reject(fromDownstream(e)));
  };

  const begin = (arg: unknown, o: MethodCallOptions, resolve: (v: unknown) => void, reject: (e: unknown) => void): void => {
    const unheeded = o === NO_OPTIONS ? undefined : unheededOption(o, m);
    if (unheeded !== undefined) return reject(failed(unheeded));
    let value = arg;
    let blob: Uint8Array | undefined;
    if (m.blobs) {
      try {
        ({ value, blob } = splitBlob(arg, action));
      } catch (e) {
        return reject(fromDownstream(e));
      }
    }
    if (!m.input) return send(value, o, resolve, reject, blob);
    let checked: unknown;
    try {
      checked = validate(m.input, value, badArgument, ErrorCode.InvalidArgument);
    } catch (e) {
      // The schema's words are about this process's call, not the request a handler answers.
      return reject(fromDownstream(e));
    }
    if (checked instanceof Promise) waitForSchema(checked, o, blob, resolve, reject);
    else send(checked, o, resolve, reject, blob);
  };

  const call = (arg: unknown, o: MethodCallOptions = NO_OPTIONS): Promise<unknown> => {
    const promise = new Promise(captureSettlers);
    const { resolve, reject } = settlers;
    settlers.resolve = settlers.reject = noop;
    // What throws below (a Caller that throws) rejects, as it would inside a promise's executor.
    try {
      begin(arg, o, resolve, reject);
    } catch (e) {
      reject(failed(e));
    }
    return promise;
  };

  // A streaming method: its own path (stream-client.ts). Filters wrap its opening: a client
  // stream's whole call, a server stream's until it is ready to read.
  if (m.stream) {
    const stub = streamStub(m, action, codec, mapError);
    const streamOptions = (o: MethodCallOptions): Inherited => {
      const base: CallOptions = { timeoutMs: o.timeoutMs, signal: o.signal, route: o.route, metadata: o.metadata, failFast: o.failFast };
      return o.ctx === undefined ? { opts: base, release: noop } : inherit(base, o.ctx);
    };
    const open = (arg: unknown, o: MethodCallOptions = NO_OPTIONS): Promise<unknown> => {
      let inherited: Inherited;
      try {
        const unheeded = o === NO_OPTIONS ? undefined : unheededOption(o, m);
        if (unheeded !== undefined) throw unheeded;
        inherited = streamOptions(o);
      } catch (e) {
        return Promise.reject(failed(e));
      }
      return callStream(stub, caller, arg, inherited.opts, inherited.release);
    };
    // A stream takes no client-wide default timeout (a subscription may last): only its own bounds its filters.
    return withFiltersAndResult(open, m, filters, service, name, logger, undefined);
  }

  return withFiltersAndResult(call, m, filters, service, name, logger, opts.timeoutMs);
}

/**
 * A method as the client hands it out: `run` inside the client filters (none: `run` itself, so
 * a call pays nothing for them), with its `.result()` form that resolves to ok or error.
 */
function withFiltersAndResult(
  run: (arg: unknown, o?: MethodCallOptions) => Promise<unknown>,
  m: AnyMethod,
  filters: readonly Filter[],
  service: string,
  name: string,
  logger: Logger,
  defaultTimeoutMs: number | undefined,
): ClientMethod<AnyMethod> {
  const action = `${service}.${name}`;
  const filtered =
    filters.length === 0
      ? run
      : (arg: unknown, o: MethodCallOptions = NO_OPTIONS): Promise<unknown> => {
          // Refused before the filters: they must not see (nor a `before` wait for) a call never to be made.
          const unheeded = o === NO_OPTIONS ? undefined : unheededOption(o, m);
          if (unheeded !== undefined) return Promise.reject(named(fromDownstream(unheeded), action));
          const info = callInfo('client', service, name, arg, { route: o.route });
          const wait = new ClientFilterWait(o, o.timeoutMs ?? defaultTimeoutMs, info);
          return withFilters(filters, info, () => run(arg, wait.sendOptions()), (e) => logger.warn({ action, err: e }, 'client filter failed after the call'), wait);
        };
  const result = (arg: unknown, o?: MethodCallOptions): Promise<Result<unknown, unknown>> =>
    filtered(arg, o).then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error: error as CallError<unknown> }),
    );
  return Object.assign(filtered, { result }) as ClientMethod<AnyMethod>;
}
