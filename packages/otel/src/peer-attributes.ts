import type { Attributes } from '@opentelemetry/api';
import { parseAddress } from '@skein/core';
import {
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
  ATTR_NETWORK_TRANSPORT,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_SKEIN_TRANSPORT,
} from './semconv.js';

interface Split {
  readonly address: string;
  readonly port: number | undefined;
  readonly network: 'tcp' | 'unix' | undefined;
}

/**
 * A Skein address as text in the conventions' parts, read by core's `parseAddress` (every form a
 * peer or a `server` option is written in: `host:port`, `[::1]:port`, `tls://`, `ws://` and
 * `wss://` URLs, `unix:/path`, `tls+unix:/path`): host and port, or a socket's path with
 * `network.transport` `unix` (the conventions' `server.address` for a Unix socket is its path).
 * WebSocket runs on TCP. Text it does not read is kept without its query, which may hold a token.
 */
function split(text: string): Split {
  try {
    const a = parseAddress(text);
    return 'path' in a ? { address: a.path, port: undefined, network: 'unix' } : { address: a.host, port: a.port, network: 'tcp' };
  } catch {
    return { address: text.split('?')[0]!, port: undefined, network: undefined };
  }
}

/** A client call's `server.address` and `server.port` (for a Unix socket: its path, and `network.transport` `unix`). */
export function serverAttributes(text: string): Attributes {
  const s = split(text);
  const a: Attributes = { [ATTR_SERVER_ADDRESS]: s.address };
  if (s.port !== undefined) a[ATTR_SERVER_PORT] = s.port;
  if (s.network) a[ATTR_NETWORK_TRANSPORT] = s.network;
  return a;
}

/** A server call's peer: who called, over which Skein transport (`tcp`, `ws`...). */
export function peerAttributes(remote: string, transport: string): Attributes {
  const s = split(remote);
  const a: Attributes = { [ATTR_NETWORK_PEER_ADDRESS]: s.address, [ATTR_SKEIN_TRANSPORT]: transport };
  if (s.port !== undefined) a[ATTR_NETWORK_PEER_PORT] = s.port;
  if (s.network) a[ATTR_NETWORK_TRANSPORT] = s.network;
  return a;
}
