import type { Etcd3 } from 'etcd3';

/**
 * The members `client` was given (its `hosts` option, which etcd3 keeps but does not expose),
 * as `host:port` (etcd3 drops the scheme too), or undefined where that cannot be told (another
 * etcd3 than 1.x).
 */
export function endpointsOf(client: Etcd3): string[] | undefined {
  const hosts = (client as unknown as { options?: { hosts?: unknown } }).options?.hosts;
  const list = typeof hosts === 'string' ? [hosts] : Array.isArray(hosts) ? hosts : undefined;
  return list?.map((h) => String(h).replace(/^[a-z][a-z0-9+.-]*:\/\//i, ''));
}
