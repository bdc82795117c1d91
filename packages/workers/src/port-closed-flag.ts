/**
 * How a worker whose port to the pool closed tells the pool so: the port cannot carry it, and an
 * exit code cannot either (a handler may `process.exit` with any code, the one we would pick
 * included). A word of memory both threads share, set by the worker just before it exits, is read
 * by the pool once the thread is gone: only the worker's own close listener sets it.
 */
export type PortClosedFlag = SharedArrayBuffer;

export const newPortClosedFlag = (): PortClosedFlag => new SharedArrayBuffer(4);

export const markPortClosed = (flag: PortClosedFlag): void => void Atomics.store(new Int32Array(flag), 0, 1);

export const portWasClosed = (flag: PortClosedFlag): boolean => Atomics.load(new Int32Array(flag), 0) === 1;
