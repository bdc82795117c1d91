import type net from 'node:net';
import { formatAddress, type Address } from '@skein/core';

/** `node:net` options that point at an address. */
export function netTarget(address: Address): { path: string } | { host: string; port: number } {
  return 'path' in address ? { path: address.path } : { host: address.host, port: address.port };
}

export const isTcp = (address: Address): boolean => !('path' in address);

/**
 * The peer, for logs. Read once, at connect or accept: Node forgets `remoteAddress` after the
 * socket closes. A Unix peer is usually unnamed, so it is shown by the path the connection is on.
 */
export function remoteOf(socket: net.Socket, local: Address): string {
  if ('path' in local) return formatAddress(local);
  const host = socket.remoteAddress;
  const port = socket.remotePort;
  return host === undefined || port === undefined ? 'unknown' : formatAddress({ host, port });
}
