/**
 * Now, in ms, on a time line every thread of the process shares. `performance.now()` counts from
 * each thread's own start (and a server's default clock is it), so a moment crosses to a worker
 * as `performance.timeOrigin + performance.now()`: high resolution and monotonic within a thread,
 * and the same time line on both sides.
 */
export const sharedNow = (): number => performance.timeOrigin + performance.now();
