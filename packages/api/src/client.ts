import { RemoteError, RpcError, extended, guardedLogger, silentLogger, type Codec, type Logger } from '@skein/core';
import { metadataRefusal, type Caller, type CallOptions } from '@skein/stream';
import { NO_OPTIONS, type MethodCallOptions } from './call-options.js';
import { refuseThen, type AnyMethod, type ClientArgOf, type OpenErrorOf, type ResultOf, type ServiceDef } from './define.js';
import { withFilters, type Filter } from './filters.js';
import { ClientCallInfo, handedOn } from './client-call-info.js';
import { ClientFilterWait, carrierTimeout } from './client-filter-wait.js';
import { inherit } from './inherited-options.js';
import { failed, mapError, type MethodReplies, type ReplyState } from './method-replies.js';
import { ClientCache } from './client-cache.js';
import { entriesRefusal } from './metadata-keys.js';
import { callStream, streamStub } from './stream-client.js';
import { unaryCall, unaryStub } from './unary-call.js';
import { unheededOption } from './unheeded-options.js';
import { checkCodec, checkDefaultTimeout } from './option-checks.js';

export type { MethodCallOptions } from './call-options.js';

export interface ClientOptions {
  codec: Codec;
  /** Default timeout for every call of this client (else the caller's default). */
  timeoutMs?: number | undefined;
  logger?: Logger | undefined;
  /** Before/after hooks around every call of this client (see Filter). */
  filters?: readonly Filter[] | undefined;
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
  /**
   * Calls the method; rejects with `CallError<OpenErrorOf<M>>`. A server or bidi stream resolves
   * at once with its items: the method's declared errors come while they are read (OpenErrorOf).
   */
  (...args: CallArgs<ClientArgOf<M>>): Promise<ResultOf<M>>;
  /**
   * Calls the method and never rejects: the error comes back typed. For a server or bidi stream,
   * only what refuses its opening (its input schema, an option, a filter): its declared errors
   * are thrown by its iterator.
   */
  result(...args: CallArgs<ClientArgOf<M>>): Promise<Result<ResultOf<M>, OpenErrorOf<M>>>;
}

export type Client<S extends ServiceDef> = { readonly [K in keyof S['methods']]: ClientMethod<S['methods'][K]> };

/** Clients made without filters, handed out again for the same caller, definition and options. */
const made = new ClientCache();

/**
 * A typed stub for `def` over any Caller (a ClientStream, a pool). Made again over the same
 * caller with the same definition, codec, timeout and logger and no filters, it is the same
 * (frozen) client: making one per call, as a handler calling its client back does, costs a lookup.
 */
export function createClient<S extends ServiceDef>(def: S, caller: Caller, opts: ClientOptions): Client<S> {
  // Only an object keys a WeakMap: anything else given as the caller is a mistake its calls find, made anew.
  // `filters: null` (plain JS, a config read from JSON) is no filters, as `makeClient` takes it.
  const keepable = (opts.filters == null || opts.filters.length === 0) && typeof caller === 'object' && caller !== null;
  const { codec, timeoutMs, logger: given } = opts;
  const before = keepable ? made.find(caller, def, codec, timeoutMs, given) : undefined;
  if (before !== undefined) return before as Client<S>;
  const client = makeClient(def, caller, opts);
  if (keepable) made.keep(caller, { def, codec, timeoutMs, logger: given, client });
  return client;
}

function makeClient<S extends ServiceDef>(def: S, caller: Caller, opts: ClientOptions): Client<S> {
  // Here, not before the lookup: a client found there was made with options checked then.
  checkCodec(opts.codec, 'createClient');
  checkDefaultTimeout(opts.timeoutMs, 'createClient');
  const stub: Record<string, unknown> = {};
  const replies: ReplyState = { decoded: false };
  // Its lines are written on the way to a call's outcome: one the logger cannot write must not stop it.
  const logger = guardedLogger(opts.logger ?? silentLogger);
  for (const [name, m] of Object.entries(def.methods)) {
    // A definition made without `service()` is checked here: a stub must never be a thenable.
    refuseThen('method', name);
    stub[name] = clientMethod(def.name, name, m, caller, opts, replies, logger);
  }
  return Object.freeze(stub) as Client<S>;
}

function clientMethod(service: string, name: string, m: AnyMethod, caller: Caller, opts: ClientOptions, replies: ReplyState, logger: Logger): ClientMethod<AnyMethod> {
  const filters = opts.filters ?? [];
  const r: MethodReplies = { m, action: `${service}.${name}`, codec: opts.codec, logger, replies };
  // With client filters, they refuse the options the definition owns before they run: the call inside them need not again.
  const check = filters.length === 0;
  // A stream takes no client-wide default timeout (a subscription may last): only its own bounds its filters.
  if (m.stream) return withFiltersAndResult(streamOpen(r, caller, check), m, filters, service, name, logger, undefined, undefined);
  return withFiltersAndResult(unaryCall(unaryStub(r, caller, opts.timeoutMs), check), m, filters, service, name, logger, opts.timeoutMs, caller);
}

/**
 * A streaming method's call: its own path (stream-client.ts), made once per method. Filters wrap
 * its opening: a client stream's whole call, a server stream's until it is ready to read.
 * `check`: as `unaryCall`'s.
 */
function streamOpen(r: MethodReplies, caller: Caller, check: boolean): (arg: unknown, o?: MethodCallOptions) => Promise<unknown> {
  const stub = streamStub(r.m, r.action, r.codec, (err) => mapError(r, err));
  return (arg: unknown, o: MethodCallOptions = NO_OPTIONS): Promise<unknown> => {
    let opts: CallOptions;
    try {
      const unheeded = !check || o === NO_OPTIONS ? undefined : unheededOption(o, r.m);
      if (unheeded !== undefined) throw unheeded;
      opts = streamOptions(o);
    } catch (e) {
      return Promise.reject(failed(r.action, e));
    }
    return callStream(stub, caller, arg, opts);
  };
}

function streamOptions(o: MethodCallOptions): CallOptions {
  // Another call's metadata its filters still write is copied here, as it is handed on.
  const base: CallOptions = { timeoutMs: o.timeoutMs, signal: o.signal, route: o.route, metadata: handedOn(o).metadata, failFast: o.failFast, onReplyMetadata: o.onReplyMetadata };
  return o.ctx === undefined ? base : inherit(base, o.ctx);
}

/**
 * The options a filtered call is sent with: with the metadata its filters set (`info.setMetadata`,
 * which wrote to a copy of its own), fixed from now on, else as they were, with no object made.
 * Metadata they changed (wrote, or assigned to `info.metadata`) is refused, InvalidArgument,
 * unsent, with an entry they set under a symbol key (the wire drops it unsaid) or a reserved one
 * (`skein-stream`); the caller's own entries go as they would without filters. The call's own
 * copy is looked at too, though `setMetadata` checked each key it set: a plain-JS filter may
 * write it directly (`info.metadata['skein-stream'] = …`), and the look costs some 50 ns.
 */
function withSetMetadata<O extends MethodCallOptions>(sent: O, o: MethodCallOptions, info: ClientCallInfo): O {
  ClientCallInfo.sent(info);
  const metadata = info.metadata;
  if (metadata === o.metadata) return sent;
  // No record at all (plain JS assigned null, a string): left to the carrier, which refuses it as the option's.
  if (metadata !== undefined && metadataRefusal(metadata) === undefined) {
    const refused = entriesRefusal(metadata, o.metadata);
    if (refused !== undefined) throw failed(info.action, refused);
  }
  return extended(sent, { metadata });
}

/**
 * A method as the client hands it out: `run` inside the client filters (none: `run` itself, so
 * a call pays nothing for them), with its `.result()` form that resolves to ok or error. With
 * filters, the options the definition owns are refused here, and `run` does not check them again.
 */
function withFiltersAndResult(
  run: (arg: unknown, o?: MethodCallOptions) => Promise<unknown>,
  m: AnyMethod,
  filters: readonly Filter[],
  service: string,
  name: string,
  logger: Logger,
  defaultTimeoutMs: number | undefined,
  /** A unary call's carrier, whose own default bounds a call given no timeout (`carrierTimeout`); none for a stream. */
  carrier: Caller | undefined,
): ClientMethod<AnyMethod> {
  const action = `${service}.${name}`;
  // One per method, not per call.
  const afterFailed = (e: unknown): void => logger.warn({ action, err: e }, 'client filter failed after the call');
  const filtered =
    filters.length === 0
      ? run
      : (arg: unknown, o: MethodCallOptions = NO_OPTIONS): Promise<unknown> => {
          // Refused before the filters: they must not see (nor a `before` wait for) a call never to be made,
          // nor copy metadata that is no record into one (`setMetadata`).
          const unheeded = o === NO_OPTIONS ? undefined : (unheededOption(o, m) ?? metadataRefusal(o.metadata));
          if (unheeded !== undefined) return Promise.reject(failed(action, unheeded));
          o = handedOn(o);
          const info = new ClientCallInfo(service, name, arg, o.route, o.metadata);
          const own = o.timeoutMs ?? defaultTimeoutMs;
          const wait = new ClientFilterWait(o, own, info, undefined, own === undefined && carrier ? carrierTimeout(carrier, o) : undefined);
          return withFilters(filters, info, () => run(arg, withSetMetadata(wait.sendOptions(), o, info)), afterFailed, wait);
        };
  const result = (arg: unknown, o?: MethodCallOptions): Promise<Result<unknown, unknown>> =>
    filtered(arg, o).then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error: error as CallError<unknown> }),
    );
  // Frozen, as the client is: a client made again is the one kept (createClient), and a method
  // patched through one (a spy, a wrapper) would be every later one's.
  return Object.freeze(Object.assign(filtered, { result: Object.freeze(result) })) as ClientMethod<AnyMethod>;
}
