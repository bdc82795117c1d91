import { invalidArgument } from '@skein/core';
import { discoveryEntry, type DiscoveryEntry } from '@skein/stream';

/** Where entries live unless told otherwise: `skein/servers/<type>/<id>`. */
export const DEFAULT_PREFIX = 'skein/servers';

/** A key prefix without its trailing slashes; throws InvalidArgument if nothing is left. */
export function checkedPrefix(prefix: string = DEFAULT_PREFIX): string {
  if (typeof prefix !== 'string') throw invalidArgument(`the etcd key prefix must be a string, got ${JSON.stringify(prefix)}`);
  const p = prefix.replace(/\/+$/, '');
  if (p === '') throw invalidArgument(`the etcd key prefix must not be empty, got ${JSON.stringify(prefix)}`);
  return p;
}

/** The range every entry under `prefix` is in: the slash keeps `skein/servers2/...` out. */
export function rangeOf(prefix: string): string {
  return `${prefix}/`;
}

/** `<prefix>/<type>/<id>`. The type may not hold a slash: the first slash after it starts the id. */
export function keyOf(prefix: string, entry: DiscoveryEntry): string {
  if (entry.type.includes('/')) throw invalidArgument(`a server type registered in etcd may not contain '/', got '${entry.type}'`);
  return `${prefix}/${entry.type}/${entry.id}`;
}

/** The value of an entry's key: `{ address, weight, meta }` as JSON. */
export function encodeValue(entry: DiscoveryEntry): string {
  return JSON.stringify({ address: entry.address, weight: entry.weight, meta: entry.meta });
}

/** The type and id a key names, or undefined for a key not laid out as `<prefix>/<type>/<id>`. */
export function parseKey(prefix: string, key: string): { type: string; id: string } | undefined {
  const start = prefix.length + 1;
  if (!key.startsWith(rangeOf(prefix))) return undefined;
  const slash = key.indexOf('/', start);
  if (slash <= start || slash === key.length - 1) return undefined;
  return { type: key.slice(start, slash), id: key.slice(slash + 1) };
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A key's text, or undefined for a key that is not UTF-8 (anyone may write under the prefix).
 * Read loosely, each bad byte is U+FFFD: a foreign key would name a server, and two of them, or one
 * and a real server's key spelled with U+FFFD, one and the same.
 */
export function keyText(key: Uint8Array): string | undefined {
  try {
    return strictUtf8.decode(key);
  } catch {
    return undefined;
  }
}

/** Reads a key and its value back into an entry. Throws InvalidArgument saying what is wrong. */
export function decodeEntry(prefix: string, key: string, value: string): DiscoveryEntry {
  const name = parseKey(prefix, key);
  if (!name) throw invalidArgument(`key ${JSON.stringify(key)} is not <prefix>/<type>/<id>`);
  let body: unknown;
  try {
    body = JSON.parse(value);
  } catch (err) {
    throw invalidArgument(`value of ${key} is not JSON: ${(err as Error).message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidArgument(`value of ${key} is not a JSON object`);
  const { address, weight, meta } = body as Record<string, unknown>;
  return discoveryEntry({ ...name, address: address as string, weight: weight as number | undefined, meta: meta as Record<string, string> | undefined });
}
