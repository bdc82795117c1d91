import type { Attributes } from '@opentelemetry/api';
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

/** A Skein address as text (`host:port`, `[::1]:port`, `unix:/path`) in the conventions' parts. */
function split(text: string): Split {
  if (text.startsWith('unix:')) return { address: text.slice(5), port: undefined, network: 'unix' };
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text);
  return m ? { address: m[1] ?? m[2]!, port: Number(m[3]), network: 'tcp' } : { address: text, port: undefined, network: undefined };
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
