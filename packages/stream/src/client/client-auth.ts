import { ErrorCode, RpcError, connectTimerMs, type Clock, type Logger } from '@skein/core';
import { decodeGrant } from '../wire/auth.js';
import { readErrorBytes } from '../wire/error-strings.js';
import { HelloError } from '../wire/hello.js';
import { RES_FLAG_AT, RES_MSG_LEN_AT, RESPONSE_HEADER_LENGTH, ResponseFlag, u32 } from '../wire/protocol.js';
import { Alarm } from '../internals/alarm.js';
import { credentialsError, fetchCredentials, isAuthRefusal, type Credentials } from './credentials.js';
import type { ClientHello } from './hello.js';

/** What the client's auth needs of its stream. */
export interface AuthLink {
  readonly remote: string;
  /** Sends credentials (an AUTH_ACTION request with `msg`); returns its seq. */
  sendCredentials(msg: Uint8Array): number;
  /** The grant ran out without a renewal accepted: the stream stops taking calls. */
  expired(): void;
  /** Resolves when the connection is gone (`ClientStream.closed`). */
  closed(): Promise<Error | undefined>;
  /** Closes the connection at once (`ClientStream.destroy`): the connect failed. */
  destroy(reason: string): void;
}

/** How long a connect with credentials waits for the server's verdict, unless `connectTimeoutMs` says. */
export const AUTH_WAIT_MS = 10_000;

/** Renewal starts when this share of a grant's time has passed. */
const RENEW_AT = 0.75;

/**
 * How much sooner than the server the stream takes its grant to end: the expiry's timer may
 * fire late (a busy event loop), and a call sent after the server's end is refused "credentials
 * expired" (Unauthenticated, never retried), where one the stream refuses itself is Closed,
 * unsent, which a pool sends on a fresh connection. A twentieth of the grant, at most 1 s.
 */
const endsSooner = (ttlMs: number): number => Math.min(ttlMs / 20, 1000);

/**
 * A stream's credentials: presents them once the hello's answer asks for them, then renews them
 * on the live connection before the grant's time runs out (calls keep going meanwhile),
 * retrying a refused renewal at the middle of the time left. If the time runs out all the same,
 * the stream is told (it closes gracefully, so that a pool opens a fresh connection with fresh
 * credentials).
 */
export class ClientAuth {
  /** The seq of the credentials on the wire (first or renewal); 0 when none are. */
  sentSeq = 0;
  /** The server accepted credentials once: later failures are renewals'. */
  private accepted = false;
  private waiters: { resolve(): void; reject(err: Error): void }[] = [];
  /** The next thing due: a renewal, or the end of the grant. */
  private readonly alarm: Alarm;
  private expiresAt = Infinity;
  /**
   * When the credentials on the wire were sent: the server's grant starts when it judged them,
   * later, so a grant counted from here never outlives the server's, however late its answer
   * comes (counted from the answer, it did by the time the answer took).
   */
  private sentAt = 0;
  private closed = false;

  constructor(
    private credentials: Credentials,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly link: AuthLink,
  ) {
    this.alarm = new Alarm(clock);
  }

  /**
   * Presents the credentials fetched for the connect once the hello's answer asks for them, and
   * waits for the server's verdict: a refusal (the server then ends the connection) fails the
   * connect with its error, and so does no verdict within `timeoutMs` (default 10 s). A peer
   * that does not authenticate (razor v1, or a server without an `authenticate` hook) never
   * receives them, and the stream works as without.
   */
  atConnect(hello: ClientHello, credentials: Uint8Array, timeoutMs = AUTH_WAIT_MS): Promise<void> {
    const remote = this.link.remote;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error): void => {
        if (settled) return;
        settled = true;
        timer.stop();
        this.link.destroy(err.message);
        reject(err);
      };
      // Capped like the connect's own timer: connectTimeoutMs may be any positive duration.
      const timer = this.clock.every(connectTimerMs(timeoutMs), () => fail(new RpcError(ErrorCode.Unreachable, `${remote} gave no verdict on the credentials within ${timeoutMs} ms`)));
      // A TLS server that refused our certificate is a refusal too (Unauthenticated, never retried elsewhere), not Unreachable.
      void this.link.closed().then((err) => fail(isAuthRefusal(err) ? err : new RpcError(ErrorCode.Unreachable, `connection to ${remote} closed before its credentials were answered`, { cause: err })));
      const done = (): void => {
        if (settled) return;
        settled = true;
        timer.stop();
        resolve();
      };
      hello.whenKnown(() => {
        // Refused at its hello: the connect fails with why, not with a closed stream (a pool could only say "closed at once").
        if (hello.refusal !== undefined) return fail(hello.refusal);
        if (hello.authAsked) return void this.present(credentials).then(done, fail);
        this.logger.debug({ remote }, 'the server does not authenticate: credentials not sent');
        done();
      });
    });
  }

  /** Presents the credentials fetched for the connect; resolves once accepted, rejects with the server's refusal. */
  private present(credentials: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.send(credentials);
    });
  }

  /** The server accepted credentials for `ttlMs` (undefined: no expiry). */
  granted(ttlMs: number | undefined): void {
    this.accepted = true;
    this.expiresAt = ttlMs === undefined ? Infinity : this.sentAt + ttlMs - endsSooner(ttlMs);
    // Replaces what was due under the grant before (a renewal, its end): a grant without expiry leaves nothing due.
    this.at(ttlMs === undefined ? Infinity : this.sentAt + ttlMs * RENEW_AT);
  }

  /**
   * Presents fresh credentials now; resolves when the server accepts them. Joins a renewal under
   * way, unless `credentials` replace the source: those go once it is answered (it presents the old).
   */
  renew(credentials?: Credentials): Promise<void> {
    if (credentials === undefined) return this.renewal();
    const bad = credentialsError(credentials, 'credentials');
    if (bad) return Promise.reject(bad);
    const busy = this.waiters.length > 0;
    this.credentials = credentials;
    return busy ? this.renewal().then(() => this.renewal(), () => this.renewal()) : this.renewal();
  }

  private renewal(): Promise<void> {
    if (!this.accepted) return Promise.reject(new RpcError(ErrorCode.Unauthenticated, `no credentials were accepted on the connection to ${this.link.remote}: nothing to renew`));
    if (this.closed) return Promise.reject(new RpcError(ErrorCode.Closed, `stream to ${this.link.remote} is closed`));
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      if (this.waiters.length === 1) void this.start();
    });
  }

  /** The answer to the credentials out (the first ones, or a renewal). */
  answer(bytes: Uint8Array, start: number, end: number): void {
    this.sentSeq = 0;
    const bodyAt = start + RESPONSE_HEADER_LENGTH;
    if (bytes[start + RES_FLAG_AT] !== ResponseFlag.Ok) {
      const e = readErrorBytes(bytes.slice(bodyAt, end));
      return this.failed(e instanceof RpcError ? e : new RpcError(ErrorCode.Unauthenticated, 'credentials refused'));
    }
    try {
      this.granted(decodeGrant(bytes, bodyAt, bodyAt + u32(bytes, start + RES_MSG_LEN_AT)));
    } catch (err) {
      if (!(err instanceof HelloError)) throw err;
      return this.failed(new RpcError(ErrorCode.Decode, `answer to the credentials: ${err.message}`));
    }
    this.settle(undefined);
  }

  /**
   * Whether the grant has run out by the clock, telling the stream if so (it closes). Its alarm
   * may fire later than the margin the grant ends sooner by (an event loop blocked past it), and
   * a call sent meanwhile is refused "credentials expired", never retried. Reads the clock only
   * under a grant that ends.
   */
  ranOut(): boolean {
    if (this.expiresAt === Infinity || this.closed || this.clock.now() < this.expiresAt) return false;
    this.alarm.stop();
    this.link.expired();
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.alarm.stop();
    this.settle(new RpcError(ErrorCode.Closed, `stream to ${this.link.remote} closed before its credentials were answered`));
  }

  private async start(): Promise<void> {
    // The grant runs out all the same while these are fetched and judged: the stream is told
    // then, rather than sending calls the server refuses as expired (the answer sets the next).
    this.at(this.expiresAt);
    let msg: Uint8Array;
    try {
      msg = await fetchCredentials(this.credentials);
    } catch (err) {
      return this.failed(err as RpcError);
    }
    if (this.closed) return;
    this.send(msg);
  }

  private send(msg: Uint8Array): void {
    this.sentAt = this.clock.now();
    this.sentSeq = this.link.sendCredentials(msg);
  }

  private failed(err: RpcError): void {
    if (!this.accepted) return this.settle(err); // the first presentation: the connect fails with it
    this.logger.warn({ remote: this.link.remote, err }, 'credentials renewal failed');
    this.settle(err);
    const now = this.clock.now();
    // Again at the middle of the time left, while there is some; at the end, the stream is told.
    if (this.expiresAt - now > 2) this.at(now + (this.expiresAt - now) / 2);
    else this.at(this.expiresAt);
  }

  private settle(err: Error | undefined): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) err ? w.reject(err) : w.resolve();
  }

  /** At `when`: renew, or, once the grant has run out, tell the stream. */
  private at(when: number): void {
    if (this.closed) return;
    this.alarm.set(when, () => {
      if (this.closed) return;
      if (this.clock.now() >= this.expiresAt) return this.link.expired();
      void this.renew().catch(() => {}); // failures are logged and retried by `failed`
    });
  }
}
