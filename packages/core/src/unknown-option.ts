import { invalidArgument } from './rpc-error.js';

/**
 * Refuses what is not an options object of `owner`, and an option it has no knob for, with
 * InvalidArgument (`<owner> option <name> is unknown (its options: …)`, as `refuseRenamed` words
 * a renamed one): TypeScript flags both, but a plain-JS caller's would otherwise be ignored without
 * a word (`wsTransport(nodeRuntime)`, a misspelt `pathh`), the defaults silently used instead.
 * `undefined` is no options, and is fine. A key whose value is `undefined` is checked too: a typo
 * is a typo whatever its value.
 */
export function refuseUnknownOptions(opts: unknown, known: readonly string[], owner: string): void {
  if (opts === undefined) return;
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts)) throw invalidArgument(`${owner} takes an options object, got ${kindOf(opts)}`);
  const unknown = Object.keys(opts).filter((key) => !known.includes(key));
  if (unknown.length > 0) throw invalidArgument(`${owner} option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} unknown (its options: ${known.join(', ')})`);
}

const kindOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);
