import type { ReloadableTransport } from '@skein/core';
import { resolveOptions, type ResolvedOptions, type WsTransportOptions } from './options.js';
import { transportOf } from './transport-of.js';

export interface UwsTransportOptions extends WsTransportOptions {
  /** The module to load as uWebSockets.js. Default `uWebSockets.js`. */
  uwsModule?: string | undefined;
}

/** uwsTransport's knob beyond WsTransportOptions'. */
export const UWS_EXTRA_OPTIONS = ['uwsModule'] as const satisfies readonly Exclude<keyof UwsTransportOptions, keyof WsTransportOptions>[];

/**
 * The ws transport's server contract on uWebSockets.js (an optional peer dependency, loaded on
 * first `listen`; it throws UwsUnavailableError when missing or when only its JS fallback
 * loads). Clients are the same as wsTransport's: uWS is a server.
 */
export function uwsTransport(options: UwsTransportOptions = {}): ReloadableTransport {
  const opts = uwsBudget(resolveOptions(options, 'uwsTransport', UWS_EXTRA_OPTIONS), options.maxPendingMessageBytes);
  return transportOf('uws', opts, async (address, spec, accept, tls, logger) => {
    const { listenUws } = await import('./uws-server.js');
    return listenUws(address, spec, accept, { ...opts, tls, logger }, options.uwsModule);
  });
}

/**
 * uWS can bound what its connections hold of messages only by how many are open, each reserving
 * `maxWsMessageBytes` (see UwsAdmission): the ws server's default budget, four such messages,
 * would admit four connections. So on uWS the budget applies only when it is given.
 */
function uwsBudget(opts: ResolvedOptions, given: number | undefined): ResolvedOptions {
  return given === undefined ? { ...opts, maxPendingMessageBytes: Infinity } : opts;
}
