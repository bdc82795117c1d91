/**
 * A handler that ignores its signal, as one blocked in a database call would, and ends only when
 * the test lets it go: for tests of how many handlers a server lets run at once once their calls
 * were abandoned (cancelled, past their deadline, timed out by `handlerTimeoutMs`).
 */
export interface HeldHandler {
  /** The handler: resolves with its argument once let go. */
  readonly run: <T>(arg: T) => Promise<T>;
  /** How many run now. */
  readonly running: number;
  /** The most that ran at once. */
  readonly max: number;
  /** Lets every one running now end. */
  endAll(): void;
}

export function heldHandler(): HeldHandler {
  const ends: (() => void)[] = [];
  const h = {
    running: 0,
    max: 0,
    run: <T>(arg: T): Promise<T> => {
      h.max = Math.max(h.max, ++h.running);
      return new Promise<T>((resolve) => ends.push(() => (h.running--, resolve(arg))));
    },
    endAll: () => ends.splice(0).forEach((end) => end()),
  };
  return h;
}
