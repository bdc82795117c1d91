import { invalidArgument } from './rpc-error.js';

/**
 * Refuses an option given under the name it had before it was renamed, with InvalidArgument
 * `<owner> option <prefix><old> is now <prefix><now>`: TypeScript flags the old name, but a
 * plain-JS caller's would otherwise be ignored without a word, its value silently replaced by
 * the default. `prefix`: where the options sit in the caller's own (`stream.`).
 */
export function refuseRenamed(opts: object, old: string, now: string, owner: string, prefix = ''): void {
  if ((opts as Record<string, unknown>)[old] !== undefined) throw invalidArgument(`${owner} option ${prefix}${old} is now ${prefix}${now}`);
}
