import { formatAddress, type Address } from '@skein/core';
import type { DenoAddr, DenoListenOptions } from './native-api.js';

/** Deno's options that point at an address. */
export function denoTarget(address: Address): DenoListenOptions {
  return 'path' in address ? { transport: 'unix', path: address.path } : { transport: 'tcp', hostname: address.host, port: address.port };
}

/** The peer of an accepted connection, for logs. A Unix peer is unnamed: it is shown by the path it came in on. */
export function remoteOf(peer: DenoAddr, local: Address): string {
  return peer.transport === 'tcp' ? formatAddress({ host: peer.hostname, port: peer.port }) : formatAddress(local);
}

/** Deno's errors name their kind (ConnectionRefused, AddrInUse): the name and message say why. */
export const describe = (err: unknown): string => `${(err as Error)?.name}: ${(err as Error)?.message}`;
