import { CODE_INFO, ErrorCode, RpcError, type Clock, type Logger } from '@skein/core';
import { AUTH_ENTRY, MAX_CREDENTIALS, encodeGrant } from '../wire/auth.js';
import { appendEntry } from '../wire/hello.js';
import { Alarm } from '../internals/alarm.js';
import { LazyAbort } from '../internals/lazy-abort.js';
import { noop } from '../internals/abort-listeners.js';
import type { AbortSource } from '../client/call-options.js';
import { isRefusal, runAuthenticate, type Authenticate, type AuthGrant, type AuthRefusal, type AuthRequest } from './authenticate.js';
import type { ConnInfo } from './request.js';
import type { ViolationLines } from './violation-lines.js';

/** A server's auth settings, shared by its connections. */
export interface AuthSettings {
  readonly authenticate: Authenticate;
  /** Calls from a connection that did not authenticate are refused. */
  readonly required: boolean;
  /** How long the hook may take over one set of credentials before they are refused (`authTimeoutMs`). */
  readonly timeoutMs: number;
  readonly clock: Clock;
  readonly logger: Logger;
  /** The server's bounded lines: a flood of connections calling unauthenticated says one line a window. */
  readonly violations: ViolationLines;
}

/** How a connection's auth answers: through the connection it guards. */
export interface AuthWire {
  readonly info: ConnInfo;
  /** Fires when the server begins to close: a hook run under way is no longer waited for. */
  readonly draining: AbortSource;
  ok(seqLo: number, seqHi: number, msg: Uint8Array): void;
  error(seqLo: number, seqHi: number, code: ErrorCode, detail: string): void;
  /** Ends the connection once what was written has left. */
  end(): void;
  /** Closes the connection now. */
  close(): void;
}

/**
 * How long a peer whose first credentials were refused has to close its side after the server
 * ended its own, before the server closes the connection: the 2 s the transports give a peer
 * after a malformed frame (their `lingerMs`). Held open until `idleTimeoutMs` (120 s by
 * default), a stranger could keep a place under `maxConnections` that long by being refused.
 */
export const REFUSED_LINGER_MS = 2_000;

/** The verdict of a run the server's close stopped waiting for: the call's answer while draining, Closed. */
const CLOSING: AuthRefusal = { code: ErrorCode.Closed, detail: 'the server is closing' };

/**
 * - `none`: no credentials offered (calls pass unless auth is required).
 * - `pending`: the hello offered auth, or the first credentials are with the hook: calls are
 *   refused, never held, so nothing a client pipelines reaches dispatch before the hook accepts.
 * - `accepted`: calls pass, with the principal; a renewal under way does not stop them.
 * - `expired`: the grant's time ran out before a renewal was accepted: calls are refused.
 * - `refused`: the first credentials were refused: the connection is ending.
 */
type AuthState = 'none' | 'pending' | 'accepted' | 'expired' | 'refused';

const WHY: Record<Exclude<AuthState, 'accepted'>, string> = {
  none: 'this server requires authentication: connect with credentials',
  pending: 'call sent before authentication completed',
  expired: 'credentials expired',
  refused: 'credentials refused',
};

/** One connection's authentication: the hook's verdicts, the principal, the grant's expiry. */
export class ConnAuth {
  /** Read by the connection for every call: false while calls are refused. */
  admits: boolean;
  principal: unknown = undefined;
  private state: AuthState = 'none';
  /**
   * A hook run under way: one at a time per connection, so that a peer flooding renewals costs
   * one hook call, not one per frame (a Skein client never has two out).
   */
  private running = false;
  /** The grant's end: one timer per connection whose grant expires, no clock read per call. */
  private readonly expiry: Alarm;
  /**
   * The bound on the hook run under way (a hook that never settles must not hold the
   * connection), then, once the first credentials are refused, on the peer's linger
   * (REFUSED_LINGER_MS): one alarm, as the two never overlap.
   */
  private readonly bound: Alarm;
  /** Stops the hook run under way, its signal aborted with `reason`: the connection closed. */
  private stopRun: ((reason: RpcError) => void) | undefined = undefined;
  private warned = false;
  private closed = false;

  constructor(
    private readonly settings: AuthSettings,
    private readonly wire: AuthWire,
  ) {
    this.admits = !settings.required;
    this.expiry = new Alarm(settings.clock);
    this.bound = new Alarm(settings.clock);
  }

  /**
   * The hello offered auth: `answer` (the hello's answer msg) gets the entry that asks for the
   * credentials, and calls are refused until they are presented and accepted.
   */
  offered(answer: Uint8Array): Uint8Array {
    // Refused stays refused: a new hello must not reopen the hook to a peer that keeps sending
    // after the server ended its side (one guess per hello, calls run once one is accepted).
    if (this.state === 'refused') return answer;
    this.state = 'pending';
    this.admits = false;
    this.expiry.stop();
    return appendEntry(answer, AUTH_ENTRY);
  }

  /**
   * Credentials presented (AUTH_ACTION), answered with a grant once the hook accepts them. The
   * first ones: calls are refused until then, and a refusal ends the connection. A renewal:
   * calls keep going under the current credentials meanwhile, and a refusal answers this
   * request alone (the current ones stay good until they expire). They are the msg at
   * `b[from, to)`, copied only once checked: the hook reads them after the transport reused `b`.
   */
  present(seqLo: number, seqHi: number, b: Uint8Array, from: number, to: number): void {
    if (this.running) return this.wire.error(seqLo, seqHi, ErrorCode.Unauthenticated, 'credentials sent while others were being checked');
    if (this.state === 'refused') return this.wire.error(seqLo, seqHi, ErrorCode.Unauthenticated, WHY.refused);
    if (to - from > MAX_CREDENTIALS) {
      return this.wire.error(seqLo, seqHi, ErrorCode.Unauthenticated, `credentials of ${to - from} bytes exceed ${MAX_CREDENTIALS}`);
    }
    const credentials = b.slice(from, to);
    const renewal = this.state === 'accepted' || this.state === 'expired';
    if (!renewal) {
      this.state = 'pending';
      this.admits = false;
    }
    this.check(credentials, renewal, (verdict) => {
      if (!isRefusal(verdict)) return this.wire.ok(seqLo, seqHi, encodeGrant(verdict.expiresInMs));
      this.wire.error(seqLo, seqHi, verdict.code, verdict.detail);
      if (!renewal) this.leave();
    });
  }

  /** Why a call is refused (the connection answers it Unauthenticated); logged once per connection. */
  refusal(): string {
    const why = WHY[this.state as Exclude<AuthState, 'accepted'>];
    if (!this.warned) {
      this.warned = true;
      this.settings.violations.say('warn', { remote: this.wire.info.remote, reason: why }, 'unauthenticated call refused', why);
    }
    return why;
  }

  /** The connection closed (`cause`): a hook run under way is no longer waited for, and its signal says so. */
  close(cause: Error): void {
    this.closed = true;
    this.expiry.stop();
    this.bound.stop();
    this.stopRun?.(new RpcError(ErrorCode.IO, `authentication: connection lost: ${cause.message}`, { cause }));
  }

  /**
   * Runs the hook, and answers with the first of its verdict, the timeout's refusal, and the
   * server's close (Closed). Whatever ends the wait before the hook answered aborts its signal
   * (AuthRequest.signal) with why; its AbortController is made only if the hook reads `signal`.
   */
  private check(credentials: Uint8Array, renewal: boolean, answer: (verdict: AuthGrant | AuthRefusal) => void): void {
    this.running = true;
    const { authenticate, clock, timeoutMs } = this.settings;
    const aborts = new LazyAbort();
    const req: AuthRequest = {
      credentials,
      get text() {
        return utf8.decode(credentials);
      },
      conn: this.wire.info,
      renewal,
      current: this.principal,
      get signal() {
        return aborts.signal;
      },
    };
    let judged = false;
    let unhook = noop;
    /** `stopped`: why the server stopped waiting, before the hook answered. */
    const judge = (verdict: AuthGrant | AuthRefusal, stopped?: RpcError): void => {
      // The first of the hook, the deadline and the closes decides; a hook that settles late is ignored.
      if (judged) return;
      judged = true;
      this.bound.stop();
      unhook();
      this.stopRun = undefined;
      this.running = false;
      if (stopped !== undefined) aborts.fire(stopped);
      if (!this.closed) this.settle(verdict, renewal, answer, stopped?.code !== ErrorCode.Closed);
    };
    this.stopRun = (reason) => judge(CLOSING, reason);
    // Told at once when the server is closing already: the hook is not run for a verdict nobody waits for.
    unhook = this.wire.draining.onAbort((reason) => judge(CLOSING, reason instanceof RpcError ? reason : new RpcError(ErrorCode.Closed, CLOSING.detail)));
    if (judged) return;
    const timedOut = `authentication timed out after ${timeoutMs} ms`;
    this.bound.set(clock.now() + timeoutMs, () => judge({ code: ErrorCode.Unauthenticated, detail: timedOut }, new RpcError(ErrorCode.Timeout, timedOut)));
    void runAuthenticate(authenticate, req).then((verdict) => judge(verdict));
  }

  /**
   * The first credentials were refused: our side ends once the refusal has left, and the
   * connection closes REFUSED_LINGER_MS later unless the peer closed its own meanwhile (as a
   * malformed frame's does): a peer that holds it open holds no place until the idle timeout.
   */
  private leave(): void {
    this.wire.end();
    this.bound.set(this.settings.clock.now() + REFUSED_LINGER_MS, () => {
      if (this.closed) return;
      const { remote } = this.wire.info;
      // Bounded by time: strangers may be refused on any number of connections.
      this.settings.violations.say('info', { remote, lingerMs: REFUSED_LINGER_MS }, 'closing connection: its peer held it open after its credentials were refused');
      this.wire.close();
    });
  }

  /** `logged`: a refusal is logged (not one the server's close made: it is no judgement on the peer). */
  private settle(verdict: AuthGrant | AuthRefusal, renewal: boolean, answer: (verdict: AuthGrant | AuthRefusal) => void, logged: boolean): void {
    if (!isRefusal(verdict)) {
      this.accept(verdict);
    } else if (logged) {
      const { logger } = this.settings;
      const { remote } = this.wire.info;
      if (verdict.err !== undefined) logger.error({ remote, err: verdict.err }, 'authenticate hook failed: credentials refused');
      const code = CODE_INFO[verdict.code].name;
      // Bounded by time per code and reason: strangers may be refused on any number of connections.
      this.settings.violations.say('warn', { remote, code, reason: verdict.detail, renewal }, 'authentication refused', `${code}: ${verdict.detail}`);
    }
    if (isRefusal(verdict) && !renewal) this.state = 'refused';
    answer(verdict);
  }

  private accept(grant: AuthGrant): void {
    this.state = 'accepted';
    this.admits = true;
    this.principal = grant.principal;
    const ttl = grant.expiresInMs;
    this.expiry.set(ttl === undefined ? Infinity : this.settings.clock.now() + ttl, () => this.expire());
  }

  private expire(): void {
    if (this.closed || this.state !== 'accepted') return;
    this.state = 'expired';
    this.admits = false;
    this.warned = false;
    this.settings.logger.info({ remote: this.wire.info.remote }, 'credentials expired: calls refused until renewed');
  }
}

/**
 * `AuthRequest.text`'s decoder. `ignoreBOM`: a token that begins with U+FEFF reads as it was sent
 * (a default TextDecoder drops it, so `"\uFEFFtok"` would read as `"tok"`), as the wire's other
 * strings do (strict-utf8.ts). Not `fatal`: binary credentials still read, as before, for a hook
 * that looks only at `credentials`; their bytes, not this text, are what was sent.
 */
const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });
