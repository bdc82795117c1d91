import { ErrorCode, RpcError, RemoteError, type Codec } from '@skein/core';
import type { Command } from './args.js';
import { Deadline } from './deadline.js';
import { LatencyHistogram } from './latency-histogram.js';
import { ProgressLine, type Output } from './progress-line.js';
import { describeError } from './render.js';
import { connect, serverSpoke, remoteMethod, withStreamHint, withTransportHint, type RemoteMethod } from './session.js';
import type { Target } from './target.js';

/** What `skein bench` measured; printed as text, or as this object with `--json`. */
export interface BenchSummary {
  method: string;
  address: string;
  transport: string;
  codec: string;
  inFlight: number;
  /** From the first call sent to the last answer received. */
  seconds: number;
  /** Calls answered with a reply. */
  calls: number;
  /** Calls that failed, by error code name (`custom` for a method's own error). */
  errors: Record<string, number>;
  callsPerSecond: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Progress is redrawn this often on a terminal. */
const PROGRESS_MS = 500;

/**
 * `skein bench`: one probe call (a wrong method or codec fails there, before any load), then
 * `inFlight` callers, each sending its next call as soon as its last is answered, until
 * `duration` is over or the connection is lost. Exit 0, or 1 when the probe or every call
 * failed, or the connection was lost.
 */
export async function bench(cmd: Command, target: Target, codec: Codec, arg: unknown, out: Output, err: Output): Promise<number> {
  const deadline = new Deadline(cmd.timeoutMs);
  const stream = await connect(target, cmd.timeoutMs, cmd.inFlight);
  try {
    const fn = remoteMethod(stream, cmd.method, codec);
    try {
      // The probe shares the connect's deadline; each call of the load has the whole `--timeout`.
      await fn(arg, { timeoutMs: deadline.remainingMs() });
    } catch (e) {
      err.write(`error: ${describeError(withStreamHint(withTransportHint(deadline.explain(e), target, serverSpoke(stream))), codec)}\n`);
      return 1;
    }
    // A lost connection ends the run: every call on it would fail at once, in a loop that never yields.
    const run = new BenchRun(fn, arg, cmd.inFlight, cmd.durationS * 1000, () => stream.state === 'open');
    const progress = new ProgressLine(err);
    const timer = progress.enabled ? setInterval(() => progress.update(run.status()), PROGRESS_MS) : undefined;
    // Ctrl-C ends the run early, with its summary: a second one kills as usual.
    const stop = (): void => run.stop();
    process.once('SIGINT', stop);
    await run.done;
    process.off('SIGINT', stop);
    clearInterval(timer);
    // One last redraw: the line always ends on the final figures, however short the run.
    progress.update(run.status());
    progress.end();
    const summary = run.summary(cmd, target, codec);
    out.write(cmd.asJson ? `${JSON.stringify(summary)}\n` : formatSummary(summary));
    if (run.closedBy) {
      err.write(`error: ${target.text} is closing (it refused new calls: draining): ${describeError(run.closedBy, codec)}\n`);
      return 1;
    }
    if (stream.state !== 'open') {
      err.write(`error: the connection to ${target.text} was lost during the run${run.lastError ? `: ${describeError(run.lastError, codec)}` : ''}\n`);
      return 1;
    }
    if (run.lastError && summary.calls === 0) err.write(`every call failed; the last with: ${describeError(run.lastError, codec)}\n`);
    return summary.calls === 0 ? 1 : 0;
  } finally {
    await stream.close();
  }
}

/** The load itself: callers in a closed loop, latencies in a histogram, failures by code. */
class BenchRun {
  readonly latency = new LatencyHistogram();
  readonly errors = new Map<string, number>();
  lastError: unknown;
  /**
   * The Closed that ended the run. A draining server refuses every new call with Closed and keeps
   * the connection open while calls keep coming: calling on would spin on refusals and hold its
   * close() open for the rest of the run.
   */
  closedBy: RpcError | undefined;
  readonly done: Promise<void>;
  private readonly startedAt = performance.now();
  private lastAnswerAt = this.startedAt;
  private endsAt: number;

  constructor(
    private readonly fn: RemoteMethod,
    private readonly arg: unknown,
    inFlight: number,
    durationMs: number,
    /** False once the connection is gone: no call sent after could be answered. */
    private readonly connected: () => boolean,
  ) {
    this.endsAt = this.startedAt + durationMs;
    this.done = Promise.all(Array.from({ length: inFlight }, () => this.caller())).then(() => undefined);
  }

  /** No new calls: the run ends once the calls out are answered. */
  stop(): void {
    this.endsAt = 0;
  }

  private async caller(): Promise<void> {
    while (performance.now() < this.endsAt && this.connected()) {
      const t0 = performance.now();
      try {
        await this.fn(this.arg);
        this.lastAnswerAt = performance.now();
        this.latency.record(this.lastAnswerAt - t0);
      } catch (e) {
        this.lastAnswerAt = performance.now();
        this.lastError = e;
        const name = e instanceof RpcError ? e.codeName : e instanceof RemoteError ? 'custom' : 'other';
        this.errors.set(name, (this.errors.get(name) ?? 0) + 1);
        // Closed on a connection still open is the server's refusal; on a lost one, the loss. Only a
        // bare one (retry 'safe': refused before dispatch) is the server draining: a method's own
        // Closed (its database closed, a downstream's passed on) travels with words and says
        // nothing of the server, so it is counted and the run goes on.
        if (e instanceof RpcError && e.code === ErrorCode.Closed && e.retry === 'safe' && this.connected()) {
          this.closedBy ??= e;
          this.stop();
        }
      }
    }
  }

  private get failed(): number {
    let n = 0;
    for (const c of this.errors.values()) n += c;
    return n;
  }

  status(): string {
    const s = (performance.now() - this.startedAt) / 1000;
    const calls = this.latency.count;
    return `${s.toFixed(1)} s  ${calls} calls  ${Math.round(calls / Math.max(s, 1e-3))} calls/s  p50 ${ms(this.latency.percentileMs(0.5))}  p99 ${ms(this.latency.percentileMs(0.99))}  errors ${this.failed}`;
  }

  summary(cmd: Command, target: Target, codec: Codec): BenchSummary {
    const seconds = (this.lastAnswerAt - this.startedAt) / 1000;
    const calls = this.latency.count;
    return {
      method: cmd.method,
      address: target.text,
      transport: target.kind,
      codec: codec.name,
      inFlight: cmd.inFlight,
      seconds,
      calls,
      errors: Object.fromEntries(this.errors),
      callsPerSecond: seconds > 0 ? Math.round(calls / seconds) : 0,
      p50Ms: this.latency.percentileMs(0.5),
      p90Ms: this.latency.percentileMs(0.9),
      p99Ms: this.latency.percentileMs(0.99),
      maxMs: this.latency.maxMs,
    };
  }
}

const ms = (v: number): string => `${v < 10 ? v.toFixed(3) : v.toFixed(1)} ms`;

function formatSummary(s: BenchSummary): string {
  const errors = Object.entries(s.errors);
  const failed = errors.reduce((n, [, c]) => n + c, 0);
  return [
    `${s.method} over ${s.transport} ${s.address} (${s.codec}), ${s.inFlight} in flight, ${s.seconds.toFixed(2)} s`,
    `  calls    ${s.calls} ok, ${failed} failed`,
    `  rate     ${s.callsPerSecond} calls/s`,
    `  latency  p50 ${ms(s.p50Ms)}  p90 ${ms(s.p90Ms)}  p99 ${ms(s.p99Ms)}  max ${ms(s.maxMs)}`,
    ...(errors.length > 0 ? [`  errors   ${errors.map(([k, c]) => `${k} ${c}`).join(', ')}`] : []),
    '',
  ].join('\n');
}
