import { formatAddress, type Address } from '@skein/core';
import type { BunSocket, BunTarget } from './native-api.js';

/** Bun's options that point at an address. */
export function bunTarget(address: Address): BunTarget {
  return 'path' in address ? { unix: address.path } : { hostname: address.host, port: address.port };
}

/** The peer of an accepted socket, for logs. A Unix peer is unnamed: it is shown by the path it came in on. */
export function remoteOf(socket: BunSocket<unknown>, local: Address): string {
  return 'path' in local ? formatAddress(local) : formatAddress({ host: socket.remoteAddress, port: socket.remotePort });
}

/** Bun's socket errors say only "Failed to connect" and the like; the code (ECONNREFUSED, ENOENT) says why. */
export function describe(err: unknown): string {
  const { code, message } = err as { code?: string; message?: string };
  return [code, message].filter(Boolean).join(' ') || String(err);
}
