/**
 * Watches one stream's items as they pass, for tracing and metrics (`StreamCall.observe`,
 * `RequestStream.observe`): a library author's way to count what a stream carries without
 * wrapping its methods, whose shapes are the package's own business.
 *
 * Told synchronously on the data path, inside the connection's frame handling: keep it short,
 * and never throw. One that throws all the same is dropped from that stream (told nothing more
 * there; `guardedObserver`): the stream, and the connection's other streams, go on.
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

/**
 * `observer` as a stream keeps it: its throw is caught there and drops it, as it is told
 * inside the connection's frame handling, where a throw closes the connection under every
 * stream and call on it (a tracing library's bug would fail its users' other streams).
 * Dropped, not told again: it would most likely throw on every item, and its counts are wrong
 * from its first throw anyway; `dropped` is told its error once (a log line: silence would leave
 * a tracing library's wrong counts unexplained). Each observer guarded on its own: a second one
 * is still told.
 */
export function guardedObserver(observer: ItemObserver, dropped: (err: unknown) => void): ItemObserver {
  let live = true;
  const drop = (err: unknown): void => {
    live = false;
    dropped(err);
  };
  return {
    received(bytes) {
      if (!live) return;
      try {
        observer.received(bytes);
      } catch (err) {
        drop(err);
      }
    },
    sent(bytes) {
      if (!live) return;
      try {
        observer.sent(bytes);
      } catch (err) {
        drop(err);
      }
    },
  };
}

/** The line a dropped observer is logged with, on both sides. */
export const OBSERVER_DROPPED = 'a stream item observer threw: dropped from its stream, which goes on';
