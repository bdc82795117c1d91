import { deferred } from './wait.js';

/** Records a `close(err?)` handler, which the connection contracts call exactly once. */
export interface CloseRecorder {
  /** Every call's argument, so a test can check there was exactly one. */
  readonly calls: (Error | undefined)[];
  /** Settles with the first call's argument. */
  readonly closed: Promise<Error | undefined>;
  /** The handler to bind. */
  readonly close: (err?: Error) => void;
}

export function closeRecorder(): CloseRecorder {
  const first = deferred<Error | undefined>();
  const calls: (Error | undefined)[] = [];
  return {
    calls,
    closed: first.promise,
    close: (err) => {
      calls.push(err);
      first.resolve(err);
    },
  };
}
