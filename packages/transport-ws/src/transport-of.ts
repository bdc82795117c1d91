import { DEFAULT_CONNECT_TIMEOUT_MS, type Address, type FrameConn, type FrameListener, type FrameSpec, type Transport } from '@skein/core';
import type { ResolvedOptions } from './options.js';
import { connectClient } from './ws-client.js';

export type Listen = (address: Address, spec: FrameSpec, accept: (conn: FrameConn) => void) => Promise<FrameListener>;

/** A Transport whose client is the shared WebSocket client and whose server is `listen`. */
export function transportOf(name: string, options: ResolvedOptions, listen: Listen): Transport {
  const transport: Transport = {
    name,
    connect: (address, spec, o) => connectClient(address, spec, options, o?.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS),
    listen,
  };
  return transport;
}
