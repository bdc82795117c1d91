// The worker-pool benchmark's server: the Spin service (lib/spin-service.js) on the event loop
// (`workers: 0`, the in-process service dispatch) or on a WorkerPool of `workers` threads.
import { createServiceDispatch } from '@skein/api';
import { RpcServer } from '@skein/stream';
import { WorkerPool } from '@skein/workers';
import { boundAddress, listenAddress } from '../lib/addresses.js';
import { serveBenchmark } from '../lib/server-process.js';
import spinModule from '../lib/spin-service.js';
import { transportFor } from '../lib/skein-transports.js';

serveBenchmark(async (params) => {
  const pool = params.workers > 0 ? await WorkerPool.start({ module: new URL('../lib/spin-service.js', import.meta.url), workers: params.workers }) : undefined;
  const server = new RpcServer({ dispatch: pool ?? createServiceDispatch(spinModule) });
  const bound = await server.listen(transportFor('tcp', 'server'), listenAddress(params));
  return {
    address: boundAddress(params, bound),
    close: async () => {
      await server.close();
      await pool?.close();
    },
  };
});
