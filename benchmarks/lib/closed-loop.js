import { Histogram } from './histogram.js';

/**
 * Keeps `inFlight` calls going: each completion starts the next call at once (a closed loop),
 * so the system is always loaded at exactly that depth. After `warmupMs` the measuring window
 * opens: every call completed inside it is counted and its latency (send to completion)
 * recorded. `mark('start' | 'end')` is called at the window's edges so the orchestrator can
 * sample the server there. Resolves when the window is over and every call has come back.
 *
 * `call(t0, done)` starts one call and must call `done(err, t0)` when it completes; `t0` is
 * handed back rather than kept here, so a transport that answers out of order needs no lookup.
 */
export function closedLoop({ inFlight, warmupMs, measureMs, call, mark = () => {} }) {
  return new Promise((resolve, reject) => {
    const histogram = new Histogram();
    const started = performance.now();
    let phase = 'warmup';
    let windowStart = 0;
    let windowEnd = started + warmupMs; // first the warm-up's end, then the window's
    let completed = 0;
    let active = 0;
    let failure;

    // Guards against a peer that stops answering: the run fails instead of hanging the matrix.
    const watchdog = setTimeout(() => reject(new Error(`stalled: ${active} calls never completed`)), warmupMs + measureMs + 30_000);

    const done = (err, t0) => {
      const now = performance.now();
      if (err && !failure) failure = err;
      if (phase === 'warmup' && now >= windowEnd) {
        phase = 'measure';
        windowStart = now;
        windowEnd = now + measureMs;
        mark('start');
      }
      if (phase === 'measure') {
        if (now < windowEnd) {
          completed++;
          histogram.record((now - t0) * 1e6);
        } else {
          phase = 'drain';
          mark('end');
        }
      }
      // Never return what `call` returns: a promise-based client's `.then(() => done())` would
      // adopt it, chaining every call's promise to the next one and keeping them all alive.
      if (phase !== 'drain' && !failure) call(now, done);
      else if (--active === 0) finish();
    };

    const finish = () => {
      clearTimeout(watchdog);
      if (failure) return reject(failure);
      const seconds = (windowEnd - windowStart) / 1000;
      resolve({ calls: completed, seconds, histogram });
    };

    for (; active < inFlight; active++) call(performance.now(), done);
  });
}
