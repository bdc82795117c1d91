import { invalidArgument } from './rpc-error.js';

/** Where to connect or listen: a TCP host and port, or a Unix socket path. */
export type Address = { readonly host: string; readonly port: number } | { readonly path: string };

/**
 * Accepts `host:port`, `tcp://host:port`, `[::1]:port`, `unix:/path`, `/absolute/path`, or an
 * Address object. Throws InvalidArgument on anything else.
 */
export function parseAddress(input: string | Address): Address {
  if (typeof input !== 'string') return checkAddress(input);
  let s = input.trim();
  if (s.startsWith('unix:')) return checkAddress({ path: s.slice(5).replace(/^\/\/(?=\/)/, '') });
  if (s.startsWith('/')) return checkAddress({ path: s });
  if (s.startsWith('tcp://')) s = s.slice(6);
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(s);
  if (!m) throw invalidArgument(`not an address: ${JSON.stringify(input)} (want host:port or unix:/path)`);
  return checkAddress({ host: m[1] ?? m[2]!, port: Number(m[3]) });
}

function checkAddress(a: Address): Address {
  if ('path' in a) {
    if (typeof a.path !== 'string' || a.path.length === 0) throw invalidArgument('unix socket path is empty');
    return a;
  }
  if (typeof a.host !== 'string' || a.host.length === 0) throw invalidArgument('host is empty');
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) {
    throw invalidArgument(`port ${a.port} is not in 0..65535`);
  }
  return a;
}

export function formatAddress(a: Address): string {
  if ('path' in a) return `unix:${a.path}`;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
