import { MAX_TIMER_MS, RpcError, type Clock, type Logger, type Ticker } from '@skein/core';
import type { StreamCall } from '../client/stream-call.js';
import { CircuitBreaker, circuitBreakerOptions, countsAgainstServer, type CircuitBreakerOptions, type CircuitState } from './circuit-breaker.js';
import type { ServerHealthEvent } from './failover-pool-options.js';
import { OutlierEjection, OutlierScore, outlierEjectionOptions, type OutlierEjectionOptions } from './outlier-ejection.js';
import type { PoolServer } from './pool-server.js';
import { tellHook } from './app-hooks.js';
import { overLimitsUnsent } from './failover-rules.js';
import { refusedUnsent } from '../internals/unsent-refusal-mark.js';
import { refusedForRoom } from '../client/room-refusal.js';

/** How a FailoverPool's watch on its servers is set up (the pool's options, as given). */
export interface ServerHealthSetup {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly circuitBreaker: Partial<CircuitBreakerOptions> | undefined;
  readonly outlierEjection: Partial<OutlierEjectionOptions> | undefined;
  readonly onServerHealth: ((event: ServerHealthEvent) => void) | undefined;
  /** The servers, read at each outlier comparison. */
  readonly servers: () => readonly PoolServer[];
  /** The timeout of a call with none of its own (the pools' stream default), read at a probe stream's open. */
  readonly defaultTimeoutMs: () => number;
  /** A server is back in rotation: its breaker closed, or its ejection ended. */
  readonly readmitted: () => void;
}

/**
 * Counts an attempt's outcome for its server's breaker and outlier score. A function, not a
 * method: every call of a pool with either on runs it, with no hop to this file's class. One
 * this client refused itself, unsent (`unsentRefusal`), counts neither way: its server did
 * nothing; a half-open probe's place (`probe`, its round) then goes to another.
 */
export function observe(m: PoolServer, err: Error | null, latencyMs: number, probe?: number): void {
  if (err !== null && unsentRefusal(err)) {
    if (probe !== undefined) m.breaker?.release(probe);
    return;
  }
  const bad = err !== null && countsAgainstServer(err);
  if (m.breaker !== undefined) {
    if (bad) m.breaker.failed();
    else m.breaker.succeeded();
  }
  m.score?.record(latencyMs, bad);
}

/**
 * A FailoverPool's watch on its servers' health: a breaker and an outlier score per server (as
 * the options ask), the outlier comparison, how streams count for them, and the events and log
 * lines their changes raise. Apart from the pool because a call only reads a server's breaker
 * and score (`PoolServer.admitted`) and counts its outcome (`observe`); the rest is theirs.
 */
export class ServerHealth {
  private readonly breakerOpts: CircuitBreakerOptions | undefined;
  /** Servers get an outlier score. */
  private readonly scoring: boolean;
  private readonly ejectionOpts: OutlierEjectionOptions | undefined;
  private ejection: OutlierEjection<PoolServer & { score: OutlierScore }> | undefined;

  /** Checks the options; the outlier comparison starts at `start`. */
  constructor(private readonly setup: ServerHealthSetup) {
    this.breakerOpts = setup.circuitBreaker ? circuitBreakerOptions(setup.circuitBreaker) : undefined;
    this.ejectionOpts = setup.outlierEjection ? outlierEjectionOptions(setup.outlierEjection) : undefined;
    this.scoring = this.ejectionOpts !== undefined;
  }

  /** Outlier ejection is on: when every server is out of rotation, it gives way (see `FailoverPool.lastResort`). */
  get ejecting(): boolean {
    return this.scoring;
  }

  /** Starts the outlier comparison's ticker: once the first servers joined, so that a refused list starts none. */
  start(): void {
    const opts = this.ejectionOpts;
    if (opts) this.ejection = new OutlierEjection(opts, this.setup.clock, () => this.scored(), (m, out, why) => this.ejectionChanged(m, out, why));
  }

  /** Gives a server that joins its breaker and outlier score, as the options ask. */
  equip(m: PoolServer): void {
    if (this.breakerOpts) m.breaker = new CircuitBreaker(this.breakerOpts, this.setup.clock, (state, why) => this.circuitChanged(m, state, why));
    if (this.scoring) m.score = new OutlierScore();
  }

  stop(): void {
    this.ejection?.stop();
  }

  /**
   * An open stream's attempt counts for its server once its server shows how it went, not at
   * the open (the OPEN was only written): at its first item or credit (the handler runs: a
   * success, as a call answered), or else at its end, as a call ending so counts (a refusal
   * after the open, Internal, Overloaded, Timeout, a lost connection count against the server;
   * not a refusal for room on its connection alone, `refusedForRoom`, which counts neither way).
   * Its latency is the time it took to open: a stream's length says nothing of its server.
   */
  watchOutcome(m: PoolServer, stream: StreamCall, openedInMs: number, probe?: number, timeoutMs?: number): void {
    const giveUp = probe === undefined ? undefined : this.giveUpSilentProbe(m, probe, timeoutMs);
    stream.onOutcome = (err) => {
      giveUp?.stop();
      // Refused for room on its connection alone (its stream budget): the server is fine, and it
      // counts neither way (a probe's place goes to another), as a refusal unsent does.
      if (err !== null && refusedForRoom(err, stream)) return void (probe !== undefined && m.breaker?.release(probe));
      observe(m, err, openedInMs);
    };
  }

  /** A pinned stream counts for its server as an attempt of `openStream` does: its failure to open, else how it went once open. */
  scorePinned(m: PoolServer, stream: StreamCall): void {
    const clock = this.setup.clock;
    const startedAt = m.score === undefined ? 0 : clock.now();
    const elapsed = (): number => (m.score === undefined ? 0 : clock.now() - startedAt);
    stream.onAttempt = (err) => {
      if (err === null) return this.watchOutcome(m, stream, elapsed());
      observe(m, err, elapsed());
      stream.finish(err, null); // nowhere else to go: it ends here
    };
  }

  /**
   * A half-open probe that is a stream may stay silent for good (a watch with nothing to say
   * yet), holding its place: its server would stay half-open, out of rotation, indefinitely.
   * After the time a call has (its own timeoutMs, else the pool's) its place goes to another
   * probe. Silence is not counted as a failure: a live server's handler may well be silent (a
   * dead one's connection fails keepalive, which ends the stream with IO, a failure).
   */
  private giveUpSilentProbe(m: PoolServer, round: number, timeoutMs: number | undefined): Ticker {
    const ms = Math.min(timeoutMs ?? this.setup.defaultTimeoutMs(), MAX_TIMER_MS);
    const timer = this.setup.clock.every(ms, () => {
      timer.stop();
      this.setup.logger.info({ address: m.shown, silentMs: ms }, 'a probe stream said nothing within its call timeout: another probe may take its place');
      m.breaker!.release(round);
    });
    return timer;
  }

  private scored(): (PoolServer & { score: OutlierScore })[] {
    return this.setup.servers().filter((m): m is PoolServer & { score: OutlierScore } => m.score !== undefined);
  }

  /** Its lines name `m` as log lines do (`shown`: no token); its event, by its key. */
  private circuitChanged(m: PoolServer, state: CircuitState, why: string): void {
    const logger = this.setup.logger;
    const address = m.shown;
    if (state === 'open') logger.warn({ address, why }, 'circuit breaker opened: no calls to this server for a while');
    else logger.info({ address, why }, state === 'closed' ? 'circuit breaker closed' : 'circuit breaker half-open: probing');
    this.tell({ address: m.address, kind: `circuit-${state}`, why }, m);
    if (state === 'closed') this.setup.readmitted();
  }

  private ejectionChanged(m: PoolServer, ejected: boolean, why: string): void {
    const address = m.shown;
    if (ejected) this.setup.logger.warn({ address, why }, 'server ejected as an outlier');
    else this.setup.logger.info({ address, why }, 'ejected server back in rotation');
    this.tell({ address: m.address, kind: ejected ? 'ejected' : 'restored', why }, m);
    if (!ejected) this.setup.readmitted();
  }

  private tell(event: ServerHealthEvent, m: PoolServer): void {
    tellHook(this.setup.logger, this.setup.onServerHealth, event, 'onServerHealth', m.shown);
  }
}

/**
 * True for an outcome this client made itself, never sending the call or stream: over the
 * server's declared limits (FrameTooLarge, `retry: 'safe'`) or its caller's bad arguments
 * (InvalidArgument, over its own limits), cancelled or timed out while it waited for a
 * connection no failed connect kept from it (`refusedUnsent`). Read only on failures.
 */
function unsentRefusal(err: Error): boolean {
  return (err instanceof RpcError && overLimitsUnsent(err)) || refusedUnsent(err);
}
