import { invalidArgument, utf8Length, type RpcError } from '@skein/core';
import { STREAM_KIND_KEY } from './stream-kind-entry.js';

/** A call head's longest key, in UTF-8 bytes (docs/protocol.md, "Call head"). */
export const MAX_KEY_BYTES = 255;

/** Keys Skein's own stubs send: an entry of a filter's by that name would be read as Skein's (a unary call marked as a stream open). */
const RESERVED: readonly string[] = [STREAM_KIND_KEY];

const reserved = (key: string): string => `metadata '${key}' is reserved for Skein's own use`;

/**
 * Why a filter may not set `key` (`info.setMetadata`), or undefined. A call head carries string
 * keys alone (its encoder reads `Object.keys`): a symbol's entry was dropped without a word. Its
 * length is checked when the call is sent, as the `metadata` option's is.
 */
export function keyRefusal(key: unknown): string | undefined {
  if (typeof key !== 'string') return `metadata keys are strings, got ${typeof key === 'symbol' ? key.toString() : typeof key}`;
  return RESERVED.includes(key) ? reserved(key) : undefined;
}

/**
 * Why metadata a client call's filters changed (wrote, or assigned to `info.metadata`) cannot go,
 * or undefined: an entry they set under a symbol key (the wire would drop it unsaid) or a
 * reserved one. Entries of the caller's own `metadata` option (`given`), carried over into the
 * filters' copy, go as they would without filters: a handler passing its `ctx.metadata` on to a
 * stream has the kind entry of its own stream in it, which gives way to the new stream's. The
 * rest (a value that is no string, a key too long) is refused by the carrier, as the option's is.
 */
export function entriesRefusal(metadata: object, given: object | undefined): RpcError | undefined {
  for (const symbol of Object.getOwnPropertySymbols(metadata)) if (!sameEntry(metadata, given, symbol)) return invalidArgument(keyRefusal(symbol)!);
  for (const key of RESERVED) if (Object.hasOwn(metadata, key) && !sameEntry(metadata, given, key)) return invalidArgument(reserved(key));
  return undefined;
}

/** Whether `given` has the entry `key` as `metadata` has it: the caller's own, not a filter's. */
const sameEntry = (metadata: object, given: object | undefined, key: PropertyKey): boolean =>
  given !== undefined && Object.hasOwn(given, key) && (given as Record<PropertyKey, unknown>)[key] === (metadata as Record<PropertyKey, unknown>)[key];

/** A filter's own `key` option (`bearerAuth`, `bearerToken`) checked when it is made: one no call head carries would fail (or never find) every call. */
export function checkOptionKey(key: unknown, who: string): string {
  if (typeof key !== 'string' || key === '' || utf8Length(key) > MAX_KEY_BYTES) throw invalidArgument(`${who}: key must be a metadata key, a string of 1 to ${MAX_KEY_BYTES} bytes`);
  if (RESERVED.includes(key)) throw invalidArgument(`${who}: ${reserved(key)}`);
  return key;
}
