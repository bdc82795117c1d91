import { EMPTY_BYTES, ErrorCode, RpcError, consoleLogger, guardedLogger, invalidArgument, isErrorCode, type Codec, type Logger } from '@skein/core';
import { WithheldLog, actionName, crashDetail, handlerErrorDetail, refusalDetail, speaksToCaller, type Dispatch, type ServerRequest, type WithheldLogOptions } from '@skein/stream';
import { CallContext } from './context.js';
import type { AnyMethod, ArgOf, HandlerResultOf, ServiceDef } from './define.js';
import { callInfo, withFilters, type ServerCallInfo, type ServerFilter } from './filters.js';
import { validate } from './schema.js';
import { isThenable } from './thenable.js';
import { TimeoutSweep } from './timeout-sweep.js';
import { serveStream, streamArg, streamServe, type StreamServe } from './stream-dispatch.js';
import { splitBlob, withBlob } from './with-blob.js';
import { checkCodec } from './option-checks.js';
import { openedAsStream } from './call-shape.js';
import { withheldHint } from './withheld-hint.js';

export type Handler<M extends AnyMethod> = (arg: ArgOf<M>, ctx: CallContext) => HandlerResultOf<M> | Promise<HandlerResultOf<M>>;
export type Handlers<S extends ServiceDef> = { [K in keyof S['methods']]: Handler<S['methods'][K]> };

export interface ServiceImpl<S extends ServiceDef = ServiceDef> {
  readonly def: S;
  readonly handlers: Handlers<S>;
}

/** Pairs a service definition with its handlers; the compiler checks every method is there with the right types. */
export function implement<S extends ServiceDef>(def: S, handlers: Handlers<S>): ServiceImpl<S> {
  for (const name of Object.keys(def.methods)) {
    if (typeof (handlers as Record<string, unknown>)[name] !== 'function') {
      throw invalidArgument(`implement(${def.name}): no handler for ${name}`);
    }
  }
  return { def, handlers };
}

export interface ServiceDispatchOptions {
  codec: Codec;
  // Each service keeps its own types; the list only needs to be walkable.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  services: readonly ServiceImpl<any>[];
  /**
   * Where failed calls are logged (and `ctx.logger`). Default: the console at warn and error, so
   * that a handler's crash is seen; pass `silentLogger` to silence it.
   */
  logger?: Logger | undefined;
  /**
   * Send details razor's codes carry only between Skein peers: an undeclared handler error's
   * message, and the name of an action not found (default: only log them; a razor peer would
   * read a detailed error string as a custom error).
   */
  exposeInternalErrors?: boolean | undefined;
  /**
   * How the warn lines for failed calls whose words stay on the server are rate-limited: per
   * method and code, the first is logged whole, then one line per `intervalMs` (default 10 000)
   * counts the rest, for an outage fails every call alike (see `WithheldLog`).
   */
  withheldLog?: WithheldLogOptions | undefined;
  /**
   * Abort `ctx.signal` and answer Timeout when a handler runs longer (counted from the argument's
   * arrival: an asynchronous input schema that hangs is timed out too). Checked once a second.
   * Bounds a streaming method's whole stream too (from its start to its answer, as a gRPC
   * deadline does), unless `streamTimeoutMs` says otherwise. Default: off (also 0). A negative,
   * NaN or infinite value is refused (InvalidArgument).
   */
  handlerTimeoutMs?: number | undefined;
  /**
   * The bound for streaming methods: a stream whose handler has not answered (returned, or ended
   * its generator) this long after it started is ended with Timeout and its `ctx.signal`
   * aborted. Default: `handlerTimeoutMs`; 0 leaves streams unbounded (long-lived subscriptions)
   * while unary calls keep their `handlerTimeoutMs`.
   */
  streamTimeoutMs?: number | undefined;
  /**
   * Before/after hooks around every handler (see Filter), e.g. `overloadShedding()`, `callLog(logger)`.
   * Their info is a ServerCallInfo: `info.metadata` is always set (`{}` when none was sent).
   */
  filters?: readonly ServerFilter[] | undefined;
}

interface Entry {
  service: string;
  method: string;
  /** `Service.method`, and the validation messages naming it: made once, not per call. */
  action: string;
  badArgument: string;
  badResult: string;
  def: AnyMethod;
  handler: (arg: unknown, ctx: CallContext) => unknown;
  /** A streaming method's value rules (undefined: a unary one). */
  stream: StreamServe | undefined;
}

/**
 * The server side of the API layer: a Dispatch that routes `"Service.method"` actions to
 * handlers, decoding the argument and encoding the result with the codec.
 */
export function createServiceDispatch(opts: ServiceDispatchOptions): Dispatch {
  checkCodec(opts?.codec, 'createServiceDispatch');
  const entries = new Map<string, Entry>();
  const services = new Set<string>();
  for (const { def, handlers } of opts.services) {
    if (services.has(def.name)) throw invalidArgument(`service ${def.name} registered twice`);
    services.add(def.name);
    for (const [method, m] of Object.entries(def.methods as Record<string, AnyMethod>)) {
      const handler = (handlers as Record<string, Entry['handler']>)[method]!;
      const action = `${def.name}.${method}`;
      const stream = m.stream ? streamServe(m, action, opts.codec) : undefined;
      entries.set(action, { service: def.name, method, action, badArgument: `${action}: invalid argument`, badResult: `${action}: invalid result`, def: m, handler, stream });
    }
  }
  const run = new Runner(opts);
  const expose = opts.exposeInternalErrors ?? false;
  return {
    dispatch(req) {
      const entry = typeof req.action === 'string' ? entries.get(req.action) : undefined;
      if (entry) return run.start(req, entry);
      if (typeof req.action === 'number') return req.fail(ErrorCode.Method, expose ? `${actionName(req.action)}: no such action` : undefined);
      // The last dot: a method name has none, a service's may (Skein's own, `skein.health.Health`).
      const service = req.action.slice(0, Math.max(0, req.action.lastIndexOf('.')));
      if (services.has(service)) return req.fail(ErrorCode.Method, expose ? `${req.action}: no such method` : undefined);
      req.fail(ErrorCode.Service, expose ? `${req.action}: no such service` : undefined);
    },
    // The failures counted and not yet summed up would be lost with the server.
    serverClosed: () => run.serverClosed(),
    // A handler's end reaches the request: its answer, or `handlerEnded` (unswept, streamDone, done).
    tellsHandlerEnds: true,
    // From the method's own kind, never the client's stream-kind entry: a server stream's handler
    // reads no items (streamArg ignores them), and a unary or unknown action's stream is refused
    // unrun; only client and bidi streams hold a window of their connection's budget.
    readsItems(action) {
      const entry = typeof action === 'string' ? entries.get(action) : undefined;
      return entry?.stream !== undefined && entry.stream.kind !== 'server';
    },
  };
}

const timeOut = (ctx: CallContext): void => ctx.timeOut();

/** Why a call was answered before its handler started, for the filters' `after`. */
const abandoned = (e: Entry, ctx: CallContext): unknown =>
  ctx.signal.reason ?? new RpcError(ErrorCode.Cancelled, `${e.action}: answered before its handler started`);

/** A negative bound would time out every call at once; NaN would turn it off unnoticed. */
function checkTimeout(name: string, ms: number | undefined, zero: string): void {
  if (ms !== undefined && !(ms >= 0 && Number.isFinite(ms))) {
    throw invalidArgument(`${name} must be a number of ms >= 0 (0: ${zero}), got ${ms}`);
  }
}

/** Runs one call: decode, validate, handle, validate, encode, answer. */
class Runner {
  private readonly codec: Codec;
  /** The handlers' `ctx.logger`, as given. */
  private readonly logger: Logger;
  /** The dispatch's own lines: never throws, so that a line it cannot write never stops an answer. */
  private readonly log: Logger;
  private readonly expose: boolean;
  private readonly withheld: WithheldLog;
  private readonly sweep: TimeoutSweep | undefined;
  /** Streams' own: the unary sweep when the bounds are the same. */
  private readonly streamSweep: TimeoutSweep | undefined;
  private readonly filters: readonly ServerFilter[];

  constructor(opts: ServiceDispatchOptions) {
    this.filters = opts.filters ?? [];
    this.codec = opts.codec;
    this.logger = opts.logger ?? consoleLogger('warn', 'skein');
    this.log = guardedLogger(this.logger);
    this.expose = opts.exposeInternalErrors ?? false;
    this.withheld = new WithheldLog(this.log, opts.withheldLog);
    checkTimeout('handlerTimeoutMs', opts.handlerTimeoutMs, 'off');
    checkTimeout('streamTimeoutMs', opts.streamTimeoutMs, 'unbounded');
    this.sweep = opts.handlerTimeoutMs ? new TimeoutSweep(opts.handlerTimeoutMs, timeOut) : undefined;
    const streamMs = opts.streamTimeoutMs ?? opts.handlerTimeoutMs;
    this.streamSweep = !streamMs ? undefined : streamMs === opts.handlerTimeoutMs ? this.sweep : new TimeoutSweep(streamMs, timeOut);
  }

  /** See `Dispatch.serverClosed`. */
  serverClosed(): void {
    this.withheld.flush();
  }

  start(req: ServerRequest, e: Entry): void {
    if (e.stream) return this.startStream(req, e, e.stream);
    // A stream opened on a unary method: refused unrun (its result would read as an empty stream's end).
    if (req.stream !== undefined) return this.fail(req, e, openedAsStream(e.action), false);
    let arg: unknown;
    try {
      arg = req.msg.length === 0 ? undefined : this.codec.decode(req.msg);
    } catch (err) {
      return this.fail(req, e, err, false);
    }
    const ctx = new CallContext(req, e.service, e.method, this.logger);
    // Bounded from here, not from the handler's start: an asynchronous schema that hangs (a
    // `refine` that asks a database) is timed out as a handler is, and its handler never starts.
    this.sweep?.add(ctx);
    if (!e.def.input) return this.handle(req, e, ctx, arg);
    let checked: unknown;
    try {
      checked = validate(e.def.input, arg, e.badArgument, ErrorCode.InvalidArgument);
    } catch (err) {
      return this.refuse(req, e, ctx, err);
    }
    if (checked instanceof Promise) checked.then((v) => this.handleChecked(req, e, ctx, v), (err) => this.refuse(req, e, ctx, err));
    else this.handle(req, e, ctx, checked);
  }

  /** After an asynchronous schema: a call answered meanwhile (cancelled, past its deadline, timed out) is not handled. */
  private handleChecked(req: ServerRequest, e: Entry, ctx: CallContext, arg: unknown): void {
    if (req.isAnswered) return this.unswept(req, ctx);
    this.handle(req, e, ctx, arg);
  }

  /** A unary call refused before its handler started (its argument failed the schema). */
  private refuse(req: ServerRequest, e: Entry, ctx: CallContext, err: unknown): void {
    this.unswept(req, ctx);
    this.fail(req, e, err, false);
  }

  private unswept(req: ServerRequest, ctx: CallContext): void {
    ctx.finish();
    this.sweep?.delete(ctx);
    // Abandoned by its client (cancelled, past its deadline): it stops counting against its connection's cap.
    req.handlerEnded();
  }

  /** A streaming method: its argument first (a bad one is refused before filters), then the filters around the whole stream. */
  private startStream(req: ServerRequest, e: Entry, s: StreamServe): void {
    const ctx = new CallContext(req, e.service, e.method, this.logger);
    // Bounded from here, an asynchronous argument schema too (see `start`).
    this.streamSweep?.add(ctx);
    const refuse = (err: unknown): void => {
      this.streamDone(req, ctx);
      this.fail(req, e, err, false);
    };
    let arg: unknown;
    try {
      arg = streamArg(req, s);
    } catch (err) {
      return refuse(err);
    }
    if (arg instanceof Promise) arg.then((v) => this.runStream(req, e, s, ctx, v), refuse);
    else this.runStream(req, e, s, ctx, arg);
  }

  private runStream(req: ServerRequest, e: Entry, s: StreamServe, ctx: CallContext, arg: unknown): void {
    // Answered while its argument's schema awaited (cancelled, timed out): no filter sees it.
    if (req.isAnswered) return this.streamDone(req, ctx);
    let started = this.filters.length === 0;
    const run = (): Promise<void> => {
      if (req.isAnswered) return Promise.reject(abandoned(e, ctx)); // as in handleFiltered
      started = true;
      return serveStream(req, s, arg, e.handler, ctx);
    };
    const served =
      this.filters.length === 0
        ? run()
        : withFilters(this.filters, this.serverInfo(req, e, ctx, arg), run, (err) => this.log.warn({ action: e.action, err }, `${e.action}: server filter failed after the call`), ctx);
    served.then(
      () => this.streamDone(req, ctx),
      (err: unknown) => {
        this.streamDone(req, ctx);
        if (!req.isAnswered) this.fail(req, e, err, started);
      },
    );
  }

  private streamDone(req: ServerRequest, ctx: CallContext): void {
    ctx.finish();
    this.streamSweep?.delete(ctx);
    req.handlerEnded();
  }

  private serverInfo(req: ServerRequest, e: Entry, ctx: CallContext, arg: unknown): ServerCallInfo {
    const info = callInfo('server', e.service, e.method, arg, { peer: req.conn.remote, identity: req.conn.identity, principal: req.principal, metadata: req.metadata });
    ctx.shareMeta(info.meta);
    return info;
  }

  private handle(req: ServerRequest, e: Entry, ctx: CallContext, arg: unknown): void {
    if (e.def.blobs) arg = withBlob(arg, req.blob);
    if (this.filters.length > 0) return this.handleFiltered(req, e, ctx, arg);
    let out: unknown;
    try {
      out = e.handler(arg, ctx);
    } catch (err) {
      return this.done(req, e, ctx, err, true);
    }
    // Any thenable (a query builder's result, another realm's promise): its value is the answer, not the object.
    if (isThenable(out)) Promise.resolve(out).then((v) => this.done(req, e, ctx, v, false), (err) => this.done(req, e, ctx, err, true));
    else this.done(req, e, ctx, out, false);
  }

  private handleFiltered(req: ServerRequest, e: Entry, ctx: CallContext, arg: unknown): void {
    const info = this.serverInfo(req, e, ctx, arg);
    // A `before` that refuses the call answers for a handler that never started.
    let started = false;
    const run = (): unknown => {
      // Answered while a `before` awaited (cancelled, past its deadline, timed out): nobody
      // waits for this handler's answer, so it is not started.
      if (req.isAnswered) throw abandoned(e, ctx);
      started = true;
      return e.handler(arg, ctx);
    };
    withFilters(this.filters, info, run, (err) => this.log.warn({ action: info.action, err }, `${info.action}: server filter failed after the call`), ctx).then(
      (v) => this.done(req, e, ctx, v, false),
      (err) => this.done(req, e, ctx, err, true, started),
    );
  }

  private done(req: ServerRequest, e: Entry, ctx: CallContext, value: unknown, failed: boolean, started = true): void {
    ctx.finish();
    if (req.isAnswered) {
      // Answered Timeout by the sweep, or abandoned by its client (then it stops counting against the connection's cap).
      req.handlerEnded();
      return void this.sweep?.delete(ctx);
    }
    if (failed) return this.failSwept(req, e, ctx, value, started);
    let blob = EMPTY_BYTES;
    let checked: unknown;
    try {
      if (e.def.blobs) ({ value, blob } = splitBlob(value, e.badResult, ErrorCode.Internal));
      checked = e.def.output ? validate(e.def.output, value, e.badResult, ErrorCode.Internal) : value;
    } catch (err) {
      return this.failSwept(req, e, ctx, err, true);
    }
    // An asynchronous result schema stays under handlerTimeoutMs, as its handler was: one that
    // hangs is answered Timeout rather than holding the call for ever.
    if (checked instanceof Promise) checked.then((v) => this.replySwept(req, e, ctx, v, blob), (err) => this.failSwept(req, e, ctx, err, true));
    else this.replySwept(req, e, ctx, checked, blob);
  }

  private replySwept(req: ServerRequest, e: Entry, ctx: CallContext, value: unknown, blob: Uint8Array): void {
    this.sweep?.delete(ctx);
    this.reply(req, e, value, blob);
  }

  private failSwept(req: ServerRequest, e: Entry, ctx: CallContext, err: unknown, started: boolean): void {
    this.sweep?.delete(ctx);
    this.fail(req, e, err, started);
  }

  private reply(req: ServerRequest, e: Entry, value: unknown, blob: Uint8Array): void {
    let msg: Uint8Array;
    try {
      msg = value === undefined ? EMPTY_BYTES : this.codec.encode(value);
    } catch (err) {
      return this.fail(req, e, err);
    }
    req.reply(msg, blob);
  }

  /**
   * Answers a failed call. `started`: the handler ran (or was running), so the answer must not
   * tell the client the call never ran (see `handlerErrorDetail`); a refusal before it did may.
   */
  private fail(req: ServerRequest, e: Entry, err: unknown, started = true): void {
    try {
      this.answerFailure(req, e, err, started);
    } catch (unreadable) {
      // The error throws when read (a revoked Proxy, an object with no toString): still the
      // handler's failure, as createRouter answers it, not a call left unanswered and, from a
      // promise's callback, a rejection nobody handles (which ends a Node process).
      this.log.error({ action: e.action, peer: req.conn.remote, err: unreadable }, `${e.action}: handler failed with an error that cannot be read`);
      if (!req.isAnswered) req.fail(ErrorCode.Internal);
    }
  }

  private answerFailure(req: ServerRequest, e: Entry, err: unknown, started: boolean): void {
    if (this.isDeclared(e, err)) {
      let payload;
      try {
        payload = e.def.errors!.encode(err);
      } catch (encodeErr) {
        return this.failBuiltin(req, e, encodeErr, started);
      }
      return void req.failCustom(payload);
    }
    this.failBuiltin(req, e, err, started);
  }

  /**
   * Whether `err` is one of the method's declared errors. An `is` that throws (reading a field
   * of a thrown `null`) declares nothing: thrown here, from a promise's callback, it would leave
   * the call unanswered and reject with no handler, which ends a Node process.
   */
  private isDeclared(e: Entry, err: unknown): boolean {
    if (!e.def.errors) return false;
    try {
      return e.def.errors.is(err);
    } catch (isErr) {
      this.log.error({ action: e.action, err: isErr }, `${e.action}: the method's error codec threw in is()`);
      return false;
    }
  }

  /** Answers with a built-in error: an RpcError's own code, anything else Internal. */
  private failBuiltin(req: ServerRequest, e: Entry, err: unknown, started: boolean): void {
    const { action } = e;
    // One whose code was set to no ErrorCode after it was made (an HTTP status) is no built-in
    // error: Internal, as `req.fail` answers such a code.
    if (err instanceof RpcError && isErrorCode(err.code)) {
      if (err.code === ErrorCode.Internal || err.code === ErrorCode.Encode) {
        this.log.error({ action, peer: req.conn.remote, err }, `${action} failed`);
      } else if (!req.isAnswered && !speaksToCaller(err, started ? 'handler' : 'filter') && (started || !isOwnRefusal(err))) {
        // A downstream's error passed on (Unreachable, IO, Overloaded...): its caller gets the
        // code alone, so its words (why, which server) are kept here, or nobody sees them. A
        // `before` filter's too (an auth or quota service down), but for its own "not run"
        // refusal (a load shedder's Overloaded): one line per shed call would flood the log.
        // The hint is built only for a line written, not for each failure of a storm only counted.
        this.withheld.warn(action, err, { action, peer: req.conn.remote, err }, started && !this.expose ? withheldHint : '');
      }
      if (started) return void req.fail(err, handlerErrorDetail(err, action, this.expose));
      // A downstream's unrun Closed (its server draining) that a filter passes on is not this
      // server's word: bare, it would tell this server's clients that it is closing, and they
      // would leave it. The call did not run here either: Overloaded, bare, says only that.
      if (err.code === ErrorCode.Closed && err.downstream && err.retry === 'safe') return void req.fail(ErrorCode.Overloaded, '');
      // Refused before the handler started: without a detail, bare ('' says so), the server's own word.
      return void req.fail(err, refusalDetail(err, this.expose, action) ?? '');
    }
    // Not started: a server filter's `before` (or the codec) threw it, and the handler never ran.
    const where = started ? 'handler threw an undeclared error' : 'an undeclared error before its handler ran (a server filter or the codec threw it)';
    this.log.error({ action, peer: req.conn.remote, err }, `${action}: ${where}`);
    req.fail(ErrorCode.Internal, crashDetail(err, action, this.expose));
  }

}

/** A refusal that says the call never ran (Skein's Overloaded or Closed, `retry: 'safe'`): a filter's deliberate word, not a failure. */
const isOwnRefusal = (err: RpcError): boolean => err.code >= 100 && err.retry === 'safe';
