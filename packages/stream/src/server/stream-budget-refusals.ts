import { RepeatedLine, type Clock, type Logger } from '@skein/core';
import type { ConnKind, KindSettings } from './conn-kind.js';

/**
 * Streams refused unrun (Overloaded) because their window did not fit their connection's
 * `streamBudgetBytes` (stream-budget.ts): counted for `RpcServer.stats()` and said in a warn line
 * per kind that names the option to raise, once whole per stretch of refusals, then a count per
 * window (RepeatedLine), as the connection caps' lines are: a client that keeps opening streams
 * past the budget would otherwise write a line per stream, or go unseen.
 */
export class StreamBudgetRefusals {
  /** Since the server started. */
  total = 0;
  private readonly lines: Record<ConnKind, RepeatedLine>;

  constructor(
    private readonly kinds: KindSettings,
    private readonly logger: Logger,
    clock: Clock,
  ) {
    const line = (kind: ConnKind): RepeatedLine => {
      const { streamBudgetOption, streamBudgetBytes } = kinds[kind];
      return new RepeatedLine(clock, (n) =>
        logger.warn({ [streamBudgetOption]: streamBudgetBytes, refused: n }, `stream budget reached (${streamBudgetOption}): ${n === 1 ? '1 more stream' : `${n} more streams`} refused since the last line`),
      );
    };
    this.lines = { client: line('client'), peer: line('peer') };
  }

  /** A stream refused on a connection of `kind` from `remote`. */
  refused(kind: ConnKind, remote: string): void {
    this.total++;
    if (!this.lines[kind].hit()) return;
    const { streamBudgetOption, streamBudgetBytes } = this.kinds[kind];
    this.logger.warn(
      { remote, [streamBudgetOption]: streamBudgetBytes },
      `stream budget reached (${streamBudgetOption}): a stream whose handler reads items was refused unrun (Overloaded, safe to retry), as its connection's open streams hold the whole budget unread`,
    );
  }

  /** What is counted and not said yet, said now (the server's close). */
  flush(): void {
    this.lines.client.flush();
    this.lines.peer.flush();
  }
}
