import { formatAddress, invalidArgument, parseAddress } from '@skein/core';
import { positive } from '../internals/checks.js';
import type { DiscoveryEntry, EntrySpec } from './discovery.js';

const EMPTY_META: Readonly<Record<string, string>> = Object.freeze({});

/**
 * Checks an entry and puts it in canonical form (frozen; the address as FailoverPool writes it,
 * so that two spellings of one server are one). Throws InvalidArgument naming what is wrong.
 */
export function discoveryEntry(spec: EntrySpec): DiscoveryEntry {
  if (!spec || typeof spec !== 'object') throw invalidArgument(`not a discovery entry: ${JSON.stringify(spec)}`);
  const { type, id } = spec;
  if (typeof type !== 'string' || type === '') throw invalidArgument(`a discovery entry needs a non-empty type, got ${JSON.stringify(type)}`);
  if (typeof id !== 'string' || id === '') throw invalidArgument(`a discovery entry of type '${type}' needs a non-empty id, got ${JSON.stringify(id)}`);
  const where = `entry '${id}' of type '${type}'`;
  if (typeof spec.address !== 'string') throw invalidArgument(`${where} needs an address, got ${JSON.stringify(spec.address)}`);
  const address = formatAddress(parseAddress(spec.address));
  const weight = positive(spec.weight ?? 1, `weight of ${where}`);
  return Object.freeze({ type, id, address, weight, meta: checkedMeta(spec.meta, where) });
}

function checkedMeta(meta: EntrySpec['meta'], where: string): Readonly<Record<string, string>> {
  if (meta === undefined) return EMPTY_META;
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) throw invalidArgument(`meta of ${where} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v !== 'string') throw invalidArgument(`meta.${k} of ${where} must be a string, got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  return Object.freeze(out);
}

/** The key an entry is known by: its type and id. */
export function entryKey(type: string, id: string): string {
  // The length prefix keeps ('a/b', 'c') and ('a', 'b/c') apart.
  return `${type.length}:${type}/${id}`;
}

/** Whether two entries of one key say the same thing (a write of the same value is no change). */
export function sameEntry(a: DiscoveryEntry, b: DiscoveryEntry): boolean {
  if (a.address !== b.address || a.weight !== b.weight) return false;
  const ak = Object.keys(a.meta);
  if (ak.length !== Object.keys(b.meta).length) return false;
  return ak.every((k) => a.meta[k] === b.meta[k]);
}
