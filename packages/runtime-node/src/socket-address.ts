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
  return 'path' in local ? formatAddress(local) : peerName(socket);
}

/** The TCP peer as `host:port`: its name as Node holds it, which it keeps after the close once read. */
export function peerName(socket: net.Socket): string {
  const host = socket.remoteAddress;
  const port = socket.remotePort;
  return host === undefined || port === undefined ? 'unknown' : formatAddress({ host, port });
}

/**
 * Makes Node read and keep the TCP peer's name now (it cannot after the socket closes), without
 * building the `host:port` string: `peerName` builds it when a log first asks. At 10,000 idle
 * connections the strings cost more than Node's own record of the name.
 */
export function holdPeerName(socket: net.Socket): void {
  void socket.remotePort;
}
