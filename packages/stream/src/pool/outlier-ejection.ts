import { withDefaults, type Clock, type OptionalFields, type Ticker } from '@skein/core';
import { fraction, positive, positiveInteger, timerMs } from '../internals/checks.js';

export interface OutlierEjectionOptions {
  /** How often the servers are compared, each time on the calls since the last time. Default 10 s. */
  intervalMs: number;
  /** A server is judged on at least this many calls in the interval. Default 20. */
  minCalls: number;
  /** Servers with enough calls needed for a comparison (an outlier needs others to stand out from). Default 3. */
  minServers: number;
  /** Ejected when its share of failed calls is this much above the median server's (0.3: 40 % against 10 %). Default 0.3. */
  errorRateMargin: number;
  /** Ejected when its mean latency is this many times the median server's... Default 3. */
  latencyFactor: number;
  /** ...and at least this many ms above it (so that 0.3 ms against 0.1 ms is no outlier). Default 20. */
  minLatencyMs: number;
  /** How long an ejected server stays out of rotation. Default 30 s. */
  ejectMs: number;
  /** No server is ejected while this share of the servers is out already; one always may be. Default 0.1. */
  maxEjectedShare: number;
}

export const DEFAULT_OUTLIER_EJECTION: Readonly<OutlierEjectionOptions> = {
  intervalMs: 10_000,
  minCalls: 20,
  minServers: 3,
  errorRateMargin: 0.3,
  latencyFactor: 3,
  minLatencyMs: 20,
  ejectMs: 30_000,
  maxEjectedShare: 0.1,
};

/** Checks the options; throws InvalidArgument naming the bad one. */
export function outlierEjectionOptions(opts: OptionalFields<OutlierEjectionOptions>): OutlierEjectionOptions {
  const o = withDefaults<OutlierEjectionOptions>(DEFAULT_OUTLIER_EJECTION, opts);
  const name = (k: string): string => `outlierEjection.${k}`;
  return {
    intervalMs: timerMs(o.intervalMs, name('intervalMs')),
    minCalls: positiveInteger(o.minCalls, name('minCalls')),
    minServers: positiveInteger(o.minServers, name('minServers')),
    errorRateMargin: fraction(o.errorRateMargin, name('errorRateMargin')),
    latencyFactor: positive(o.latencyFactor, name('latencyFactor')),
    minLatencyMs: positive(o.minLatencyMs, name('minLatencyMs')),
    ejectMs: timerMs(o.ejectMs, name('ejectMs')),
    maxEjectedShare: fraction(o.maxEjectedShare, name('maxEjectedShare')),
  };
}

/** One server's calls since the last comparison, and whether it is out of rotation. */
export class OutlierScore {
  calls = 0;
  failures = 0;
  latencyMs = 0;
  /** When an ejected server comes back; 0 while in rotation. */
  ejectedUntil = 0;

  get ejected(): boolean {
    return this.ejectedUntil !== 0;
  }

  record(latencyMs: number, failed: boolean): void {
    this.calls++;
    this.latencyMs += latencyMs;
    if (failed) this.failures++;
  }

  clear(): void {
    this.calls = 0;
    this.failures = 0;
    this.latencyMs = 0;
  }
}

export interface Scored {
  readonly address: string;
  readonly score: OutlierScore;
}

/**
 * Every `intervalMs`, compares the servers on the calls since the last time and takes out of
 * rotation, for `ejectMs`, a server whose failure share or mean latency stands out from the
 * median server's, at most `maxEjectedShare` of them at once (the worst first). Comparing with
 * the others, not with a fixed bar, is the point: when every server is slow, none is ejected.
 */
export class OutlierEjection<S extends Scored = Scored> {
  private ticker: Ticker | undefined;

  constructor(
    private readonly opts: OutlierEjectionOptions,
    private readonly clock: Clock,
    private readonly servers: () => readonly S[],
    /** Told when a server leaves (`ejected`) or comes back into rotation: the server itself, as `servers` gave it. */
    private readonly changed: (s: S, ejected: boolean, why: string) => void,
  ) {
    this.ticker = clock.every(opts.intervalMs, () => this.evaluate());
  }

  stop(): void {
    this.ticker?.stop();
    this.ticker = undefined;
  }

  /** One comparison (the ticker's). */
  evaluate(): void {
    const now = this.clock.now();
    const all = this.servers();
    for (const s of all) {
      if (s.score.ejected && now >= s.score.ejectedUntil) {
        s.score.ejectedUntil = 0;
        this.changed(s, false, `ejected for ${this.opts.ejectMs} ms`);
      }
    }
    const judged = all.filter((s) => !s.score.ejected && s.score.calls >= this.opts.minCalls);
    if (judged.length >= this.opts.minServers) this.ejectOutliers(all, judged, now);
    for (const s of all) s.score.clear();
  }

  private ejectOutliers(all: readonly S[], judged: readonly S[], now: number): void {
    const errorRate = (s: Scored): number => s.score.failures / s.score.calls;
    const latency = (s: Scored): number => s.score.latencyMs / s.score.calls;
    const typicalError = median(judged.map(errorRate));
    const typicalLatency = median(judged.map(latency));
    const { errorRateMargin, latencyFactor, minLatencyMs } = this.opts;
    // Failing servers go first, then slow ones; the worst of each first.
    const outliers: { s: S; failing: boolean; by: number; why: string }[] = [];
    for (const s of judged) {
      const e = errorRate(s);
      const l = latency(s);
      if (e - typicalError >= errorRateMargin) {
        outliers.push({ s, failing: true, by: e, why: `${pct(e)} of its calls failed against ${pct(typicalError)} for the median server` });
      } else if (l > latencyFactor * typicalLatency && l - typicalLatency >= minLatencyMs) {
        outliers.push({ s, failing: false, by: l, why: `mean latency ${ms(l)} against ${ms(typicalLatency)} for the median server` });
      }
    }
    outliers.sort((a, b) => Number(b.failing) - Number(a.failing) || b.by - a.by);
    let out = all.filter((s) => s.score.ejected).length;
    for (const o of outliers) {
      if (out / all.length >= this.opts.maxEjectedShare && out > 0) break;
      o.s.score.ejectedUntil = now + this.opts.ejectMs;
      out++;
      this.changed(o.s, true, o.why);
    }
  }
}

function median(xs: number[]): number {
  xs.sort((a, b) => a - b);
  const mid = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

const pct = (x: number): string => `${Math.round(x * 100)} %`;
const ms = (x: number): string => `${x.toFixed(1)} ms`;
