import { Histogram } from './histogram.js';

/**
 * The closed loop of the streaming benchmarks: `inFlight` streams open at once, each opening
 * the next as soon as it ends, so the server always has that many to feed. After `warmupMs`
 * the measuring window opens: every item read inside it is counted, and the gap since the
 * item before it recorded (a stream has no per-item round trip to time). `mark('start' |
 * 'end')` as in closedLoop. Resolves when the window is over and every open stream has ended.
 *
 * `open(onItem)` runs one stream: it calls `onItem()` for each item read and returns a promise
 * that settles when the stream is over.
 */
export function streamLoop({ inFlight, warmupMs, measureMs, open, mark = () => {} }) {
  return new Promise((resolve, reject) => {
    const histogram = new Histogram();
    let phase = 'warmup';
    let windowStart = 0;
    let windowEnd = performance.now() + warmupMs; // first the warm-up's end, then the window's
    let last = 0;
    let completed = 0;
    let active = 0;
    let failure;

    // A stream that stops sending fails the run instead of hanging the matrix.
    const watchdog = setTimeout(() => reject(new Error(`stalled: ${active} streams never ended`)), warmupMs + measureMs + 30_000);

    const onItem = () => {
      const now = performance.now();
      if (phase === 'warmup' && now >= windowEnd) {
        phase = 'measure';
        windowStart = now;
        windowEnd = now + measureMs;
        mark('start');
      } else if (phase === 'measure') {
        if (now < windowEnd) {
          completed++;
          histogram.record((now - last) * 1e6);
        } else {
          phase = 'drain';
          mark('end');
        }
      }
      last = now;
    };

    const ended = (err) => {
      if (err && !failure) failure = err;
      if (phase !== 'drain' && !failure) lane();
      else if (--active === 0) finish();
    };

    // Not returned from a `then`: each stream's promise stays unchained from the next one's.
    const lane = () => {
      open(onItem).then(() => ended(), ended);
    };

    const finish = () => {
      clearTimeout(watchdog);
      if (failure) return reject(failure);
      resolve({ calls: completed, seconds: (windowEnd - windowStart) / 1000, histogram });
    };

    for (; active < inFlight; active++) lane();
  });
}
