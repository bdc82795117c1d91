/**
 * What a worker has taken off its port, in memory both threads share, so that the pool can read
 * it while the worker's thread is blocked, deaf or gone: nothing on the port can say so.
 *
 * Word 0 counts every message taken: how the pool finds a worker that stopped serving without
 * exiting (a handler that blocks its thread, or that removes the port's listeners without
 * closing it); the pool counts what it posted, and a worker that leaves a message unread for too
 * long is stuck (see stall-watch.ts). One atomic add per message (a batch of calls, not a call).
 *
 * Word 1 is the number of the last batch of calls the worker took (each batch carries its
 * number, 1 up): claimed before any call in it is dispatched. When the worker has exited, the
 * pool seals the word, reading what it held: a batch numbered past it never reached the worker's
 * dispatch, so none of its calls ran, and they may go to another worker. The seal is what makes
 * that certain whatever a runtime's exit event promises: a claim is a compare-and-swap that fails
 * once the word is sealed, so no batch the pool counts as untaken can start after it looked. A
 * number, not a count, so that a message the worker could not read (or that code of a handler
 * took off the port) never shifts which batches count as taken: a batch before the last one
 * taken counts as taken, whatever became of it.
 *
 * The count is an int32 that wraps, as the pool's count of what it posted does (only their
 * equality is compared); batch numbers wrap at 2^31, below the seal (-1), and only their
 * difference (far below 2^30) is read.
 */
export type MessagesTaken = SharedArrayBuffer;

export const newMessagesTaken = (): MessagesTaken => new SharedArrayBuffer(8);

/** A view over the shared words, made once per thread (each message must not make one). */
export const takenCounter = (shared: MessagesTaken): Int32Array => new Int32Array(shared);

/** The worker's side: one more message taken off the port. */
export const countTaken = (counter: Int32Array): void => void Atomics.add(counter, 0, 1);

/** The pool's side: how many messages the worker has taken so far (int32, wrapping). */
export const readTaken = (counter: Int32Array): number => Atomics.load(counter, 0);

/** Word 1 once the pool has looked: no batch can be claimed after it. */
const SEALED = -1;

/** The number of the batch after `seq` (wrapping at 2^31: never the seal). */
export const nextBatch = (seq: number): number => (seq + 1) & 0x7fff_ffff;

/**
 * The worker's side: it takes the batch numbered `seq`, before it runs any call in it. False
 * when the pool has sealed the word: it counts the batch as never taken, so it must not run here.
 */
export function claimBatch(counter: Int32Array, seq: number): boolean {
  const last = Atomics.load(counter, 1);
  return last !== SEALED && Atomics.compareExchange(counter, 1, last, seq) === last;
}

/** The worker's side: the number of the last batch it claimed, or the seal. */
export const lastBatch = (counter: Int32Array): number => Atomics.load(counter, 1);

/** The pool's side, once the worker has exited: seals the word, and returns the last batch the worker took. */
export const sealBatches = (counter: Int32Array): number => Atomics.exchange(counter, 1, SEALED);

/** Whether the batch numbered `seq` comes after the one numbered `last` (both below 2^31, close together). */
export const batchAfter = (seq: number, last: number): boolean => (seq - last) << 1 > 0;
