import { DEFAULT_CONNECT_TIMEOUT_MS, addressFor, invalidArgument, type ReloadableTransport } from '@skein/core';
import { resolveOptions, type WsTransportOptions } from './options.js';
import { connectStandard, globalWebSocket } from './standard-client.js';

/**
 * The client half of the WebSocket transport, for browsers: the page's own WebSocket (or the
 * one given in `options.WebSocket`), with nothing from Node, so that a bundler needs no flags.
 * The package's `browser` export condition picks it; `listen` rejects, as a page cannot serve.
 */
export function browserWsTransport(name: string, options: WsTransportOptions): ReloadableTransport {
  // uwsModule is uwsTransport's on every entry (the same declarations), unused by a page's client.
  const opts = resolveOptions(options, `${name}Transport`, name === 'uws' ? ['uwsModule'] : []);
  return {
    name,
    // Async, and the address checked first: a malformed one rejects with InvalidArgument, never a
    // URL's SyntaxError thrown by the WebSocket constructor before the promise.
    connect: async (address, spec, o) => {
      const Ctor = opts.WebSocket ?? globalWebSocket();
      if (!Ctor) throw invalidArgument('no WebSocket here: pass one as the `WebSocket` option');
      return connectStandard(Ctor, addressFor('ws', address, `${name}Transport`), spec, opts, o?.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, o?.signal);
    },
    listen: () => Promise.reject(invalidArgument(`${name}Transport().listen is not available in a browser build: a page can connect, not serve`)),
    // Present as the Node entry's are (one declaration describes both entries): a page's
    // WebSocket takes no certificate from script, so there is nothing to reload or count.
    reloadTls: () => Promise.reject(invalidArgument(`${name}Transport().reloadTls is not available in a browser build: a page's WebSocket uses the browser's certificates`)),
    tlsGeneration: () => 0,
  };
}
