import { systemClock, type Runtime } from '@skein/core';
import { connect } from './connect.js';
import { listen } from './listener.js';
import { loadConnectTls } from './tls.js';

/**
 * Skein's runtime contract on Node.js: `node:net` sockets (TCP and Unix). The clock is core's
 * `systemClock`: monotonic `performance.now()`, and unref'd intervals, so a ticker alone never
 * keeps the process alive.
 */
export const nodeRuntime: Runtime = {
  name: 'node',
  connect,
  listen,
  loadConnectTls,
  clock: systemClock,
};
