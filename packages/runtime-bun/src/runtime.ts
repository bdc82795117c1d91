import { systemClock, type Runtime } from '@skein/core';
import { connect } from './connect.js';
import { listen } from './listener.js';
import { loadConnectTls } from './tls.js';

/** Skein's runtime contract on Bun's own sockets (`Bun.connect`, `Bun.listen`). */
export const bunRuntime: Runtime = {
  name: 'bun',
  connect,
  listen,
  loadConnectTls,
  // Core's: performance.now(), and intervals unref'd (Bun's timers have unref()).
  clock: systemClock,
};
