// What the conformance server answers, in plain JavaScript so that every runtime loads it: the
// stream-level actions of contract.mjs (numeric, createRouter) and the Calculator service
// (string actions, createServiceDispatch), on one Dispatch. The test matrix's server process and
// transportConformance's in-process server both serve this.
/** @import { Logger } from '@skein/core' */
/** @import { Dispatch } from '@skein/stream' */
import { createClient, createServiceDispatch, implement, withBlob } from '@skein/api';
import { msgpackCodec } from '@skein/codec-msgpack';
import { ErrorCode, RemoteError, RpcError } from '@skein/core';
import { createRouter, itemsReadBy } from '@skein/stream';
import {
  Action,
  BULK_CALLS,
  bulkBlob,
  Calculator,
  CHECK_DETAIL,
  CUSTOM_NUMBER,
  DivideByZero,
  FAIL_DETAIL,
  Feed,
  NotFound,
  pattern,
  Peer,
  REVERSE_BLOB,
  REVERSE_CALLS,
  REVERSE_TIMEOUT_MS,
  sameBytes,
} from './contract.mjs';

const utf8 = new TextEncoder();
const text = new TextDecoder();

/** @param {unknown} reason */
const codeNameOf = (reason) => (reason instanceof RpcError ? reason.codeName : String(reason));

/**
 * What handlers note for the clients to ask about (`Action.heard`): how a cancel or a deadline
 * reached a handler in this process. Keys are the clients' own, unique per scenario run.
 */
function noteBook() {
  /** @type {Map<string, string>} */
  const notes = new Map();
  /** @type {Map<string, (value: string) => void>} */
  const waiting = new Map();
  return {
    /** @param {string} key @param {string} value */
    note(key, value) {
      notes.set(key, value);
      waiting.get(key)?.(value);
      waiting.delete(key);
    },
    /** @param {string} key */
    peek: (key) => notes.get(key) ?? '',
    /** @param {string} key @returns {Promise<string>} */
    heard: (key) => {
      const v = notes.get(key);
      return v !== undefined ? Promise.resolve(v) : new Promise((resolve) => waiting.set(key, resolve));
    },
  };
}

/**
 * Resolves when `signal` fires, noting its reason's code name under `key`.
 * @param {AbortSignal} signal @param {string} key @param {(key: string, value: string) => void} note
 */
const noteAbort = (signal, key, note) =>
  new Promise((resolve) => {
    const done = () => resolve(note(key, codeNameOf(signal.reason)));
    if (signal.aborted) done();
    else signal.addEventListener('abort', done, { once: true });
  });

/** Bounds `congestion`'s wait for a pause, only so that a bug fails a scenario instead of hanging it. */
const CONGESTION_WAIT_MS = 15_000;

/**
 * Resolves once `done()` holds (true), or after `ms` (false). Polled: what it waits for is the
 * server's own state, which tells no one when it changes.
 * @param {() => boolean} done @param {number} ms @returns {Promise<boolean>}
 */
function until(done, ms) {
  const giveUpAt = Date.now() + ms;
  return new Promise((resolve) => {
    const check = () => (done() ? resolve(true) : Date.now() >= giveUpAt ? resolve(false) : setTimeout(check, 10));
    check();
  });
}

/**
 * @typedef {object} DispatchOptions
 * @property {{ runtime: string; transport: string }} info what `Action.info` answers (its transport: the connection's own)
 * @property {() => void} gateEntered called as each `Action.gate` call starts
 * @property {Promise<unknown>} gateReleased `Action.gate` calls answer once it settles
 * @property {Logger} logger
 * @property {() => number} paused how many connections the server is not reading now (`stats().paused`)
 * @property {() => number[]} [midFrameReceived] `receivedBytes` of each connection holding part of a frame now (`Action.memory`'s `midFrame`)
 */

/**
 * @param {DispatchOptions} o
 * @returns {Dispatch}
 */
export function conformanceDispatch(o) {
  const book = noteBook();
  const router = createRouter(
    {
      [Action.echo]: (req) => ({ msg: req.msg, blob: req.blob }),
      // Answers nothing while its connection lives; gives up (unheard) once the connection is
      // gone, as a well-behaved handler does, so that it does not hold the server's graceful close.
      [Action.hang]: (req) => new Promise((resolve) => req.conn.signal.addEventListener('abort', () => resolve(undefined))),
      [Action.fail]: () => {
        throw new RpcError(ErrorCode.InvalidArgument, FAIL_DETAIL);
      },
      [Action.failCustom]: () => {
        throw new RemoteError(CUSTOM_NUMBER);
      },
      [Action.gate]: async () => {
        o.gateEntered();
        await o.gateReleased;
        return utf8.encode('gate-done');
      },
      // The transport as the connection reports it, not as the option says: a server that
      // listens on another transport than the one under test fails the check.
      [Action.info]: (req) => utf8.encode(JSON.stringify({ ...o.info, transport: req.conn.transport })),
      [Action.whoami]: (req) => utf8.encode(JSON.stringify(req.principal ?? null)),
      [Action.hold]: async (req) => {
        const key = text.decode(req.msg);
        book.note(`${key}:started`, 'yes');
        await noteAbort(req.signal, key, book.note);
        return undefined;
      },
      [Action.heard]: async (req) => {
        const key = text.decode(req.msg);
        return utf8.encode(key.startsWith('?') ? book.peek(key.slice(1)) : await book.heard(key));
      },
      [Action.bulk]: (req) => {
        const index = new DataView(req.msg.buffer, req.msg.byteOffset, 4).getUint32(0, true);
        const key = text.decode(req.msg.subarray(4));
        const answered = Number(book.peek(key) || 0);
        if (index !== answered) book.note(`${key}:order`, 'broken');
        book.note(key, String(answered + 1));
        return { msg: req.msg.subarray(0, 4), blob: bulkBlob() };
      },
      [Action.congestion]: async (req) => {
        const key = text.decode(req.msg);
        const answered = () => Number(book.peek(key) || 0);
        await until(() => answered() === BULK_CALLS || (o.paused() > 0 && answered() > 0), CONGESTION_WAIT_MS);
        // As they are now: the client asks again until nothing moves (held) or all are answered.
        return utf8.encode(JSON.stringify({ paused: o.paused() > 0 && answered() < BULK_CALLS, answered: answered() }));
      },
      [Action.callBack]: async (req) => {
        const caller = req.conn.caller;
        if (!caller) return utf8.encode(JSON.stringify({ caller: false }));
        const peer = createClient(Peer, caller, { codec: msgpackCodec, timeoutMs: REVERSE_TIMEOUT_MS });
        const words = Array.from({ length: REVERSE_CALLS }, (_, i) => `w${i}`);
        const bytes = pattern(REVERSE_BLOB, 3);
        const [upper, back, refused] = await Promise.all([
          Promise.all(words.map((w) => peer.upper(w).catch(() => ''))),
          peer.reverse(bytes).catch(() => new Uint8Array(0)),
          peer.refuse().then(
            () => ({ code: 'resolved' }),
            (e) => (e instanceof RpcError ? { code: e.codeName, message: e.message } : { code: String(e) }),
          ),
        ]);
        return utf8.encode(
          JSON.stringify({
            caller: true,
            upper: upper.filter((u, i) => u === words[i]?.toUpperCase()).length,
            reversed: sameBytes(back, bytes.slice().reverse()),
            refused,
          }),
        );
      },
      [Action.memory]: () => {
        const { rss, external } = globalThis.process.memoryUsage();
        return utf8.encode(JSON.stringify({ rss, external, midFrame: o.midFrameReceived?.() ?? [] }));
      },
      [Action.deadline]: (req) => {
        const left = req.remainingMs();
        return utf8.encode(JSON.stringify({ deadline: req.deadline !== undefined, within: left !== undefined && left > 0 && left <= 60_000 }));
      },
    },
    o.logger,
  );

  const api = createServiceDispatch({
    codec: msgpackCodec,
    logger: { ...o.logger, error: () => {} }, // `boom` is expected to fail
    services: [
      implement(Calculator, {
        add: ({ a, b }) => a + b,
        div: ({ a, b }) => {
          if (b === 0) throw new DivideByZero();
          return a / b;
        },
        lookup: (key) => {
          throw new NotFound(key);
        },
        echo: (bytes) => bytes,
        check: (n) => {
          if (n < 0) throw new RpcError(ErrorCode.InvalidArgument, CHECK_DETAIL);
          return n;
        },
        boom: () => {
          throw new Error('conformance: undeclared failure');
        },
      }),
      implement(Feed, {
        async *count({ to, failAt }) {
          for (let i = 1; i <= to; i++) {
            if (i === failAt) throw new DivideByZero();
            yield i;
          }
        },
        async sum(values) {
          let total = 0;
          for await (const v of values) total += v;
          return total;
        },
        async *mirror(items) {
          for await (const { value, blob } of items) yield withBlob(value.toUpperCase(), blob.slice().reverse());
        },
        async *ticks(key, ctx) {
          void noteAbort(ctx.signal, key, book.note);
          // Until the client leaves: its cancel fires the signal, then fails the next write.
          for (let i = 0; ; i++) yield i;
        },
      }),
    ],
  });

  /** @param {string | number} action */
  const routed = (action) => (typeof action === 'number' ? router : api);
  // `readsItems` routed too: the api's server streams (`ticks`) then reserve none of the stream budget.
  return { dispatch: (req) => routed(req.action).dispatch(req), readsItems: (action) => itemsReadBy(routed(action), action) };
}
