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
 * credit it controls is whether the stream opens at all. A stream whose handler reads items
 * (`Dispatch.readsItems`, asked as it opens; absent: it may) therefore reserves its whole window
 * as it opens, and one whose window does not fit what the others reserved is refused unrun (bare
 * Overloaded: safe to retry) before any item of it is kept. One whose handler reads none opens
 * with its items discarded and reserves nothing. Credit given back as items are read only ever
 * refills a stream's own window, so the credit a connection's client holds, plus what waits
 * unread, stays within the budget (each stream may overdraw its window by one item, as the
 * protocol lets a sender with any credit left send). A window is given back when its stream is
 * answered (or cancelled, or lost), or its handler calls `ignoreItems`; once its client sent END
 * (no more items come) a stream holds only what waits unread, given back as it is read. A
 * connection that became a peer after its hello still starts each stream with the hello's
 * window; the stream is held to the peers' window (a grant at once up to a wider one, grants held
 * back down to a narrower one) and reserves the larger until then (RequestStream `shrink`).
 *
 * The count is a number on the connection's extensions (ConnExtensions), which implement this:
 * nothing is allocated per stream or per connection for it.
 */
export interface StreamBudget {
  /** A stream gives back `window` bytes of what it reserved: all of it once it takes no more items (answered, or reads none), part as what it may hold falls. */
  windowFreed(window: number): void;
}
