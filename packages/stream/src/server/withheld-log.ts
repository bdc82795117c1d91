import { invalidArgument, systemClock, type Clock, type Logger, type RpcError } from '@skein/core';

export interface WithheldLogOptions {
  /** How often the failures not logged one by one are summed up, per action and code. Default 10 000 ms. */
  intervalMs?: number | undefined;
  /** How many action and code pairs are counted apart; the ones past it are counted together. Default 1000. */
  maxKeys?: number | undefined;
  /** Default `systemClock` (its ticker does not keep a process alive). */
  clock?: Clock | undefined;
}

/** The pairs counted together once `maxKeys` are taken: memory stays bounded whatever fails. */
const OTHERS = '';

/** One action and code's failures since the last tick: how many were not logged, and whether it has seen a tick. */
interface Tally {
  name: string;
  codeName: string;
  suppressed: number;
  ticked: boolean;
}

/**
 * The warn line a dispatch writes for each failed call whose words its caller does not get (see
 * `speaksToCaller`), rate-limited: in an outage every call fails alike, and one line per call
 * would bury everything else. Per action and code, the first failure is logged whole (words,
 * peer); the next ones are counted, and each interval brings one line with their count, until
 * an interval passes with none. One for @skein/api's service dispatch and `createRouter` both.
 * Costs nothing until a call fails; a ticker runs only while something is counted.
 */
export class WithheldLog {
  private readonly tallies = new Map<string, Tally>();
  private readonly intervalMs: number;
  private readonly maxKeys: number;
  private readonly clock: Clock;
  private ticker: { stop(): void } | undefined;

  constructor(
    private readonly logger: Logger,
    opts: WithheldLogOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 10_000;
    this.maxKeys = opts.maxKeys ?? 1000;
    this.clock = opts.clock ?? systemClock;
    if (!(this.intervalMs > 0 && Number.isFinite(this.intervalMs))) throw invalidArgument(`withheldLog.intervalMs must be a positive number of ms, not ${String(opts.intervalMs)}`);
    if (!(Number.isInteger(this.maxKeys) && this.maxKeys > 0)) throw invalidArgument(`withheldLog.maxKeys must be a positive integer, not ${String(opts.maxKeys)}`);
  }

  /**
   * `name` (the action, as logs name it) failed with `err`, whose words stay here: `fields` go
   * with the first such line, and `hint` after its text (what to do about it, where the caller
   * of the code knows). A function is asked for it only when a line is written: a long hint
   * built for every failure of an outage, only to be counted, cost each one.
   */
  warn(name: string, err: RpcError, fields: object, hint: string | ((err: RpcError) => string) = ''): void {
    const key = `${err.code} ${name}`;
    const tally = this.tallies.get(key) ?? (this.tallies.size >= this.maxKeys ? this.tallies.get(OTHERS) : undefined);
    if (tally !== undefined) {
      tally.suppressed++;
      return;
    }
    const full = this.tallies.size >= this.maxKeys;
    this.tallies.set(full ? OTHERS : key, { name, codeName: err.codeName, suppressed: 0, ticked: false });
    this.ticker ??= this.clock.every(this.intervalMs, () => this.tick());
    this.logger.warn(fields, `${name} failed with ${err.codeName}${typeof hint === 'function' ? hint(err) : hint}`);
  }

  /**
   * Sums up now what each pair counted since its last line, and forgets them all: for a server's
   * close (`Dispatch.serverClosed`), so that no count is lost with it. The next failure is said whole.
   */
  flush(): void {
    for (const [key, t] of this.tallies) if (t.suppressed > 0) this.sum(key, t);
    this.tallies.clear();
    this.ticker?.stop();
    this.ticker = undefined;
  }

  /** Sums up each pair's failures not logged; forgets a pair quiet for a whole interval. */
  private tick(): void {
    for (const [key, t] of this.tallies) {
      if (t.suppressed > 0) {
        this.sum(key, t);
        t.ticked = true;
      } else if (t.ticked) this.tallies.delete(key);
      else t.ticked = true;
    }
    if (this.tallies.size === 0) {
      this.ticker!.stop();
      this.ticker = undefined;
    }
  }

  private sum(key: string, t: Tally): void {
    const what = key === OTHERS ? `calls of actions past the first ${this.maxKeys} failing pairs (the first: ${t.name}, ${t.codeName})` : `${t.name} calls with ${t.codeName}`;
    this.logger.warn({ action: t.name, code: t.codeName, suppressed: t.suppressed }, `${t.suppressed} more failed ${what}: not logged one by one`);
    t.suppressed = 0;
  }
}
