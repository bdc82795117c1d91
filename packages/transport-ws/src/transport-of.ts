import { DEFAULT_CONNECT_TIMEOUT_MS, invalidArgument, reloadedTls, type Address, type FrameConn, type FrameListener, type FrameSpec, type TlsOptions, type Transport } from '@skein/core';
import type { ResolvedOptions } from './options.js';
import { connectClient } from './ws-client.js';

/** A listener that can change its TLS certificate (a wss server); without `reloadTls` it cannot. */
export interface ReloadableListener extends FrameListener {
  reloadTls?(tls: TlsOptions): Promise<void>;
}

export type Listen = (address: Address, spec: FrameSpec, accept: (conn: FrameConn) => void) => Promise<ReloadableListener>;

/** A Transport whose client is the shared WebSocket client and whose server is `listen`. */
export function transportOf(name: string, options: ResolvedOptions, listen: Listen): Transport {
  const secureListeners = new Set<ReloadableListener>();
  const transport: Transport = {
    name,
    connect: (address, spec, o) => connectClient(address, spec, options, o?.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, o?.signal),
    async listen(address, spec, accept) {
      const l = await listen(address, spec, accept);
      if (options.tls === undefined) return l;
      secureListeners.add(l);
      return { address: l.address, close: () => (secureListeners.delete(l), l.close()) };
    },
    async reloadTls(next) {
      if (options.tls === undefined) throw invalidArgument('reloadTls: this transport was made without tls options');
      reloadedTls(options.tls, next);
      for (const l of secureListeners) {
        if (!l.reloadTls) throw invalidArgument(`reloadTls: the ${name} server cannot change its certificate while listening`);
        await l.reloadTls(next);
      }
      options.tls = { ...options.tls, ...(next.cert && { cert: next.cert }), ...(next.key && { key: next.key }), ...(next.ca && { ca: next.ca }) };
    },
  };
  return transport;
}
