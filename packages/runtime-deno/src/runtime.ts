import { systemClock, type Runtime } from '@skein/core';
import { connect } from './connect.js';
import { listen } from './listener.js';
import { loadConnectTls } from './tls.js';

/** Skein's runtime contract on Deno's own sockets (`Deno.connect`, `Deno.listen`). */
export const denoRuntime: Runtime = {
  name: 'deno',
  connect,
  listen,
  loadConnectTls,
  // Core's: performance.now(), and intervals unref'd (Deno.unrefTimer, or unref() on the
  // Node-style timer objects Deno 2.9 returns).
  clock: systemClock,
};
