export { freePort, tmpSocketPath } from './ports.js';
export { waitFor, sleep, within, deferred, settleAll } from './wait.js';
export type { WaitOptions, Deferred } from './wait.js';
export { startProcess } from './process.js';
export type { Proc } from './process.js';
export { handleCounts, leakedHandles } from './resources.js';
