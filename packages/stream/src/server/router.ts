import { ErrorCode, consoleLogger, guardedLogger, invalidArgument, type Logger } from '@skein/core';
import type { Reply } from '../client/call.js';
import type { Dispatch } from './dispatch.js';
import { actionName } from '../wire/error-detail.js';
import { HandlerFailures } from './handler-failures.js';
import { kindOf } from '../internals/kind-of.js';
import type { ServerRequest } from './request.js';
import { HELLO_ACTION, PING_ACTION } from '../wire/protocol.js';
import { WithheldLog, type WithheldLogOptions } from './withheld-log.js';

/** What a handler may return: bytes for the msg, a Reply for msg and blob, or nothing. */
export type ActionResult = Uint8Array | Reply | void;
export type ActionHandler = (req: ServerRequest) => ActionResult | Promise<ActionResult>;

export interface RouterOptions {
  /**
   * Where handler crashes are logged, and a handler's RpcError whose words its caller does not get
   * (see `speaksToCaller`). Default: the console, at warn and error; `silentLogger` silences it.
   */
  logger?: Logger | undefined;
  /**
   * Send razor's codes (not found, Internal) with a detail naming the action and, for Internal,
   * the handler's message. Only for Skein peers: a razor peer reads a detailed string as a
   * custom error. Default false.
   */
  exposeInternalErrors?: boolean | undefined;
  /**
   * How the warn lines for failed calls whose words stay on the server are rate-limited: per
   * action and code, the first is logged whole, then one line per `intervalMs` (default 10 000)
   * counts the rest, for an outage fails every call alike (see `WithheldLog`).
   */
  withheldLog?: WithheldLogOptions | undefined;
}

/**
 * A Dispatch from a table of actions, for the stream layer: numeric actions (your own task enum)
 * and/or strings. An unknown action is answered with a Method error. A handler's RpcError is
 * sent as that built-in error, a RemoteError as its custom payload, anything else as Internal
 * (and logged). A handler's error never tells the client the call did not run (see
 * `handlerErrorDetail`); a handler that calls `req.fail(code)` itself speaks for the server.
 */
export function createRouter(table: Record<string | number, ActionHandler>, options: RouterOptions | Logger = {}): Dispatch {
  const opts: RouterOptions = isLogger(options) ? { logger: options } : options;
  // Its lines come on the way to answers (a failure is logged, then answered): one it cannot write must not stop that.
  const logger = guardedLogger(opts.logger ?? consoleLogger('warn', 'skein'));
  const expose = opts.exposeInternalErrors ?? false;
  const failures = new HandlerFailures(logger, expose, new WithheldLog(logger, opts.withheldLog));
  const handlers = actionTable(table);
  return {
    dispatch(req) {
      const handler = handlers.get(req.action);
      if (!handler) return void req.fail(ErrorCode.Method, expose ? `${actionName(req.action)}: no such action` : undefined);
      let out: ActionResult | Promise<ActionResult>;
      try {
        out = handler(req);
      } catch (err) {
        return failures.answer(req, err);
      }
      if (out instanceof Promise) out.then((r) => answer(req, r, failures), (err) => failures.answer(req, err));
      else answer(req, out, failures);
    },
    serverClosed: () => failures.flush(),
    // Every handler's end reaches the request: `answer` or `failures.answer`, late ones too.
    tellsHandlerEnds: true,
  };
}

/** The table's handlers by action: a numeric key is a numeric action. */
function actionTable(table: Record<string | number, ActionHandler>): Map<string | number, ActionHandler> {
  const handlers = new Map<string | number, ActionHandler>();
  for (const [k, h] of Object.entries(table)) {
    // Refused now: a table entry that is no function was answered Internal call after call.
    if (typeof h !== 'function') throw invalidArgument(`createRouter: the handler of action ${k} must be a function, got ${kindOf(h)}`);
    handlers.set(numericAction(k) ?? k, h);
  }
  return handlers;
}

/** Answers `req` with what its handler returned. */
function answer(req: ServerRequest, r: ActionResult, failures: HandlerFailures): void {
  // Reading the result may throw (a getter, a Proxy's trap): a handler's failure like any
  // other, not an exception out of the dispatch or a rejection nobody handles.
  try {
    if (r === undefined) req.reply();
    else if (r instanceof Uint8Array) req.reply(r);
    else if (typeof r === 'object' && r !== null && isReply(r)) req.reply(r.msg, r.blob);
    // Typed away, but a JavaScript handler may return a string: it has no `msg`, and would go
    // out as an empty answer that nobody sent. A bug in the handler, answered as one.
    else failures.answer(req, new TypeError(`the handler returned ${kindOf(r)}, not bytes (a Uint8Array), { msg, blob } or nothing`));
  } catch (err) {
    failures.answer(req, err);
  }
}

/**
 * A `{ msg, blob }`, one part perhaps left out (empty); an ArrayBuffer or an array has neither,
 * and no answer in it. Whether the parts are bytes is the request's to judge (`ServerRequest.reply`).
 */
function isReply(r: object): r is Reply {
  return 'msg' in r || 'blob' in r;
}

function isLogger(x: RouterOptions | Logger): x is Logger {
  return typeof (x as Logger).error === 'function';
}

/** A table key's numeric action, if it is one; the protocol's reserved ones (ping, hello and up) are refused. */
function numericAction(key: string): number | undefined {
  if (!/^\d+$/.test(key)) return undefined;
  const n = Number(key);
  if (n === PING_ACTION || n >= HELLO_ACTION) {
    throw invalidArgument(`action ${key} is reserved for the protocol: numeric actions are 1..${HELLO_ACTION - 1}`);
  }
  return n;
}
