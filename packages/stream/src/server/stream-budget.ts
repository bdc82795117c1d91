/**
 * The bytes one connection's streams may hold unread together, default: 64 full windows of the
 * default 1 MiB (a kind's window past that makes its default budget that window).
 */
export const DEFAULT_STREAM_BUDGET = 64 * 1024 * 1024;

/**
 * One connection's budget for the client-stream items its handlers have not read
 * (`streamBudgetBytes`; docs/hardening.md). A stream's credit is fixed by the wire: each new
 * stream starts with the window the hello's answer named (kind 4), and credit frames only add.
 * So the server cannot open a stream with less credit, nor take back what it granted: the only
 * credit it controls is whether the stream opens at all. A stream that reads items therefore
 * reserves its whole window as it opens, and one whose window does not fit what the others
 * reserved is refused unrun (bare Overloaded: safe to retry) before any item of it is kept.
 * Credit given back as items are read only ever refills a stream's own window, so the credit a
 * connection's client holds, plus what waits unread, stays within the budget (each stream may
 * overdraw its window by one item, as the protocol lets a sender with any credit left send).
 * Memory grows only with what is received: the reservation is a count, nothing is allocated.
 */
export class StreamBudget {
  /** The windows of the open streams that still take items. */
  private reserved = 0;

  /** True, and `window` reserved, when it fits within `budget` beside the others'. */
  reserve(window: number, budget: number): boolean {
    if (this.reserved + window > budget) return false;
    this.reserved += window;
    return true;
  }

  /** A stream that reserved `window` takes no more items (it ended, or reads none): its window is free. */
  release(window: number): void {
    this.reserved -= window;
  }
}
