import { EMPTY_BYTES, ErrorCode, RemoteError, RpcError, encodeError, extended, fromDownstream } from '@skein/core';
import type { Caller, CallOptions, Reply } from '@skein/stream';
import { NO_OPTIONS, type MethodCallOptions } from './call-options.js';
import { handedOn } from './client-call-info.js';
import { ClientFilterWait, carrierTimeout, unlessStopped } from './client-filter-wait.js';
import type { AnyMethod } from './define.js';
import { inherit } from './inherited-options.js';
import { decodeReply, failed, mapError, type MethodReplies } from './method-replies.js';
import { validate } from './schema.js';
import { unheededOption } from './unheeded-options.js';
import { splitBlob, withBlob } from './with-blob.js';

/** A unary method's client side, made once per method: what each of its calls reads. */
export interface UnaryStub extends MethodReplies {
  readonly caller: Caller;
  /** The client's default timeout, for a call that gives none. */
  readonly timeoutMs: number | undefined;
  /** Whether every call needs options of its own (`idempotent` is the definition's to add). */
  readonly needsOwnOptions: boolean;
  /** What a call without options of its own sends, made once. */
  readonly defaultOptions: CallOptions;
  readonly badArgument: string;
  readonly badResult: string;
}

export function unaryStub(r: MethodReplies, caller: Caller, timeoutMs: number | undefined): UnaryStub {
  const { m, action } = r;
  // Written out, not `...r` then more keys: on Node 20 such a spread goes through V8's runtime
  // (core's `extended` says more), and a client is made per call where its caller is (ctx.caller).
  return {
    m,
    action,
    codec: r.codec,
    logger: r.logger,
    replies: r.replies,
    caller,
    timeoutMs,
    needsOwnOptions: m.isIdempotent,
    defaultOptions: Object.freeze(ownOptions(m, timeoutMs, NO_OPTIONS)),
    badArgument: `${action}: invalid argument`,
    badResult: `${action}: invalid result`,
  };
}

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

/**
 * The stub's call, made once per method. `check`: refuse the options the definition owns
 * (`unheededOption`); false when the client filters refuse them before they run, so that a
 * call's options are checked once.
 */
export function unaryCall(s: UnaryStub, check: boolean): (arg: unknown, o?: MethodCallOptions) => Promise<unknown> {
  return (arg: unknown, o: MethodCallOptions = NO_OPTIONS): Promise<unknown> => {
    const promise = new Promise(captureSettlers);
    const { resolve, reject } = settlers;
    settlers.resolve = settlers.reject = noop;
    // What throws below (a Caller that throws) rejects, as it would inside a promise's executor.
    try {
      // Here, before an asynchronous schema waits: another call's metadata its filters still write is copied as it is handed on.
      begin(s, arg, handedOn(o), check, resolve, reject);
    } catch (e) {
      reject(failed(s.action, e));
    }
    return promise;
  };
}

function begin(s: UnaryStub, arg: unknown, o: MethodCallOptions, check: boolean, resolve: (v: unknown) => void, reject: (e: unknown) => void): void {
  const unheeded = !check || o === NO_OPTIONS ? undefined : unheededOption(o, s.m);
  if (unheeded !== undefined) return reject(failed(s.action, unheeded));
  let value = arg;
  let blob: Uint8Array | undefined;
  if (s.m.blobs) {
    try {
      ({ value, blob } = splitBlob(arg, s.action));
    } catch (e) {
      return reject(fromDownstream(e));
    }
  }
  if (!s.m.input) return send(s, value, o, resolve, reject, blob);
  let checked: unknown;
  try {
    checked = validate(s.m.input, value, s.badArgument, ErrorCode.InvalidArgument);
  } catch (e) {
    // The schema's words are about this process's call, not the request a handler answers.
    return reject(fromDownstream(e));
  }
  if (checked instanceof Promise) waitForSchema(s, checked, o, blob, resolve, reject);
  else send(s, checked, o, resolve, reject, blob);
}

// An asynchronous input schema is waited for as a filter is: the call's signal, its ctx and
// its timeout (counted from here, and the call sent with what is left) end it, never sent.
function waitForSchema(s: UnaryStub, checked: Promise<unknown>, o: MethodCallOptions, blob: Uint8Array | undefined, resolve: (v: unknown) => void, reject: (e: unknown) => void): void {
  const own = o.timeoutMs ?? s.timeoutMs;
  const wait = new ClientFilterWait(o, own, { action: s.action, startedAt: performance.now() }, 'its input schema', own === undefined ? carrierTimeout(s.caller, o) : undefined);
  // Its refusal (or the wait's end) is about this process's call, as a synchronous schema's is.
  unlessStopped(checked, wait).then((v) => send(s, v, wait.sendOptions(), resolve, reject, blob), (e: unknown) => reject(fromDownstream(e)));
}

function send(s: UnaryStub, arg: unknown, o: MethodCallOptions, resolve: (v: unknown) => void, reject: (e: unknown) => void, blob?: Uint8Array): void {
  let msg: Uint8Array;
  try {
    msg = arg === undefined ? EMPTY_BYTES : s.codec.encode(arg);
  } catch (e) {
    return reject(failed(s.action, e instanceof RpcError ? e : encodeError(s.codec.name, e)));
  }
  let callOpts = callOptions(s, o);
  if (o.ctx !== undefined) {
    try {
      callOpts = inherit(callOpts, o.ctx);
    } catch (e) {
      return reject(failed(s.action, e));
    }
  }
  if (blob !== undefined && blob.length !== 0) callOpts = extended(callOpts, { blob });
  try {
    s.caller.send(s.action, msg, callOpts, (err, reply) => settle(s, err, reply, resolve, reject));
  } catch (e) {
    // A Caller that throws: the call is over. Rejected here, not thrown: after an asynchronous
    // schema this runs in a `then`, where a throw reached nobody.
    reject(failed(s.action, e));
  }
}

/**
 * The caller's own options object goes through as it is unless something must be added: one
 * object less per call on the common path. One that says `idempotent` or `blob` never gets here
 * (refused in `begin`, or before the client filters): the method's definition alone says those.
 */
function callOptions(s: UnaryStub, o: MethodCallOptions): CallOptions {
  const mustAdd = s.needsOwnOptions || (o.timeoutMs === undefined && s.timeoutMs !== undefined);
  return !mustAdd ? o : o === NO_OPTIONS ? s.defaultOptions : ownOptions(s.m, s.timeoutMs, o);
}

function ownOptions(m: AnyMethod, timeoutMs: number | undefined, o: MethodCallOptions): CallOptions {
  return {
    timeoutMs: o.timeoutMs ?? timeoutMs,
    signal: o.signal,
    route: o.route,
    idempotent: m.isIdempotent,
    attemptTimeoutMs: o.attemptTimeoutMs,
    metadata: o.metadata,
    failFast: o.failFast,
    onReplyMetadata: o.onReplyMetadata,
  };
}

/** The call's outcome: its error as the caller sees it, or its reply decoded and checked by the output schema. */
function settle(s: UnaryStub, err: RpcError | RemoteError | null, reply: Reply | null, resolve: (v: unknown) => void, reject: (e: unknown) => void): void {
  if (err) return reject(mapError(s, err));
  let value: unknown;
  try {
    value = decodeReply(s, reply!);
  } catch (e) {
    return reject(failed(s.action, e));
  }
  const m = s.m;
  const done = m.blobs ? (v: unknown) => resolve(withBlob(v, reply!.blob)) : resolve;
  if (!m.output) return done(value);
  // Its output schema's refusal is about this process's call, as its input schema's is
  // (RpcError.downstream): a handler passing it on does not speak with its words.
  const refused = (e: unknown): void => reject(fromDownstream(e));
  try {
    const checked = validate(m.output, value, s.badResult, ErrorCode.Decode);
    if (checked instanceof Promise) checked.then(done, refused);
    else done(checked);
  } catch (e) {
    refused(e);
  }
}
