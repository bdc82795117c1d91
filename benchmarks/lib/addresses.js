/**
 * Where a benchmark server listens: a free TCP port on loopback, or the Unix socket path the
 * orchestrator chose. The ready line carries the bound address in the same shape.
 */
export function listenAddress(params) {
  return params.transport === 'unix' ? { path: params.socketPath } : { host: '127.0.0.1', port: 0 };
}

export function boundAddress(params, bound) {
  return params.transport === 'unix' ? { path: params.socketPath } : { host: '127.0.0.1', port: bound.port };
}

