/**
 * Watches one stream's items as they pass, for tracing and metrics (`StreamCall.observe`,
 * `RequestStream.observe`): a library author's way to count what a stream carries without
 * wrapping its methods, whose shapes are the package's own business.
 *
 * Told synchronously on the data path, inside the connection's frame handling: keep it short,
 * and never throw.
 */
export interface ItemObserver {
  /** An item from the peer was taken (it came within credit): its msg and blob bytes. */
  received(bytes: number): void;
  /** An item of this side went on the wire: its msg and blob bytes. */
  sent(bytes: number): void;
}

/** Both observers, `first` told first: a second `observe()` adds to the first, never replaces it. */
export function bothObservers(first: ItemObserver, second: ItemObserver): ItemObserver {
  return {
    received(bytes) {
      first.received(bytes);
      second.received(bytes);
    },
    sent(bytes) {
      first.sent(bytes);
      second.sent(bytes);
    },
  };
}
