/**
 * How the pool finds a worker that stopped serving without exiting: a handler that blocks its
 * thread (a loop that never yields) or that removes the port's listeners without closing it (a
 * deaf worker). Neither can say so on the port. The worker counts every message it takes off its
 * port in a word of memory both threads share; the pool counts what it posted, and a worker that
 * leaves a message unread for too long is stuck (see stall-watch.ts). One atomic add per message
 * (a batch of calls, not a call) is all it costs the worker.
 *
 * The count is an int32 that wraps, as the pool's count of what it posted does: only their
 * equality is compared.
 */
export type MessagesTaken = SharedArrayBuffer;

export const newMessagesTaken = (): MessagesTaken => new SharedArrayBuffer(4);

/** A view over the shared word, made once per thread (each message must not make one). */
export const takenCounter = (shared: MessagesTaken): Int32Array => new Int32Array(shared);

/** The worker's side: one more message taken off the port. */
export const countTaken = (counter: Int32Array): void => void Atomics.add(counter, 0, 1);

/** The pool's side: how many messages the worker has taken so far (int32, wrapping). */
export const readTaken = (counter: Int32Array): number => Atomics.load(counter, 0);
