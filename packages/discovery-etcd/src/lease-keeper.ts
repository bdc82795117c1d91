import type { Backoff } from '@skein/stream';
import { EtcdLeaseInvalidError, type Etcd3, type IDuplexStream, type ILeaseKeepAliveRequest, type ILeaseKeepAliveResponse } from 'etcd3';
import { failureReason } from './failure-reason.js';
import { StreamRoute } from './stream-route.js';

/** What a LeaseKeeper tells its registration. */
export interface LeaseKeeperEvents {
  /** etcd renewed the lease. */
  renewed(): void;
  /** The keepalive stream broke (`why`); it is opened again after a jittered delay. */
  failed(why: string): void;
  /** The lease is gone: etcd said it expired or was revoked, or nothing renewed it for twice its TTL. Said once, then it stops. */
  lost(err: Error): void;
}

export interface LeaseKeeperOptions {
  client: Etcd3;
  /** The granted lease's id, as etcd spells it. */
  leaseId: string;
  ttlSeconds: number;
  /** Delays between attempts to open the keepalive stream again after it broke (full jitter, capped). */
  backoff: Backoff;
  events: LeaseKeeperEvents;
}

type KeepAliveStream = IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;

/**
 * The longest wait for a keepalive's answer: a third of the TTL, at most 5 s. A healthy member
 * answers in milliseconds; a silent one (stalled, cut off without a reset) must be left early
 * enough that a stream on another member renews the lease before it expires (a keepalive goes out
 * a third of the TTL after the last answer, so one left a third later still has a third to go).
 */
const MAX_ANSWER_WAIT_MS = 5000;

/**
 * Keeps a lease alive over one keepalive stream: a keepalive every third of the TTL (as etcd3 and
 * the Go client do); a stream that breaks, or gets no answer within a third of the TTL (at most
 * 5 s), says so at once and is opened again after the registration's backoff (full jitter, capped),
 * never later than a third of the TTL; one left unanswered is opened on another member (see
 * StreamRoute). Before, a silent stream was left only after a whole TTL, when the lease had
 * expired: a registration whose stream was on a stalled member of three left and joined again.
 * Not etcd3's `autoKeepAlive`: that opens it again 100 ms after each failure, and each
 * failure resets the client's connections, so while etcd was out of reach every registration
 * dialed it about 20 times a second until twice the TTL had passed (and a fleet of servers all
 * together once it was back). As etcd3 does, the lease is given up once nothing has renewed it
 * for twice its TTL, or at once when etcd says it is gone.
 */
export class LeaseKeeper {
  private stream: KeepAliveStream | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Set while a keepalive is unanswered: the stream is taken for dead when it fires. */
  private answerTimer: ReturnType<typeof setTimeout> | undefined;
  private done = false;
  private lastRenewed = Date.now();
  private readonly intervalMs: number;
  private readonly answerWaitMs: number;
  private readonly route: StreamRoute;

  constructor(private readonly o: LeaseKeeperOptions) {
    this.intervalMs = (o.ttlSeconds * 1000) / 3;
    this.answerWaitMs = Math.min(this.intervalMs, MAX_ANSWER_WAIT_MS);
    this.route = new StreamRoute(o.client);
  }

  /** Starts after the grant (or the write that waited for it), which counts as a renewal. */
  start(): void {
    this.lastRenewed = Date.now();
    void this.open();
  }

  close(): void {
    this.done = true;
    this.drop();
  }

  private async open(): Promise<void> {
    let stream: KeepAliveStream;
    try {
      stream = await this.route.leaseClient().leaseKeepAlive();
    } catch (err) {
      return this.broke(err);
    }
    if (this.done) return stream.end();
    this.stream = stream;
    stream.on('data', (res) => stream === this.stream && this.answered(res));
    stream.on('error', (err) => stream === this.stream && this.broke(err));
    stream.on('end', () => stream === this.stream && this.broke(new Error('the keepalive stream ended')));
    this.send();
  }

  /** One keepalive now, the next a third of the TTL later. */
  private send(): void {
    const stream = this.stream;
    if (!stream) return;
    stream.write({ ID: this.o.leaseId });
    // A silent member (stopped, a dead link) leaves the stream open without a word: no answer
    // within the wait is a break, and the member is avoided by the next stream.
    this.answerTimer ??= setTimeout(() => stream === this.stream && this.silent(), this.answerWaitMs);
    this.timer = setTimeout(() => this.send(), this.intervalMs);
  }

  private answered(res: ILeaseKeepAliveResponse): void {
    clearTimeout(this.answerTimer);
    this.answerTimer = undefined;
    if (res.TTL === '0') return this.lose(new EtcdLeaseInvalidError(res.ID));
    this.lastRenewed = Date.now();
    this.o.backoff.reset();
    this.o.events.renewed();
  }

  /** The stream broke (not silent): any member may take the next one (see StreamRoute.broke). */
  private broke(err: unknown): void {
    this.route.broke();
    this.failed(err);
  }

  private silent(): void {
    this.route.silent();
    this.failed(new Error(`no keepalive answer within ${this.answerWaitMs} ms`));
  }

  private failed(err: unknown): void {
    if (this.done) return;
    this.drop();
    if (Date.now() - this.lastRenewed > 2 * 1000 * this.o.ttlSeconds) {
      return this.lose(new Error(`not renewed for twice its TTL, etcd out of reach: ${failureReason(err, this.o.client)}`));
    }
    this.o.events.failed(failureReason(err, this.o.client));
    this.timer = setTimeout(() => void this.open(), Math.min(this.o.backoff.next(), this.intervalMs));
  }

  /** Ends the stream and every timer; `done` says whether anything comes after. */
  private drop(): void {
    clearTimeout(this.timer);
    clearTimeout(this.answerTimer);
    this.answerTimer = undefined;
    const stream = this.stream;
    this.stream = undefined;
    // end(), not cancel(): etcd3 takes a canceled stream for a failure of the host and resets
    // every connection of the client.
    stream?.end();
  }

  private lose(err: Error): void {
    this.close();
    this.o.events.lost(err);
  }
}
