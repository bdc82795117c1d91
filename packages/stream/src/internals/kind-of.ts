/**
 * What a value is, in words, for an error that says a handler gave the wrong thing: `a string`,
 * `an ArrayBuffer`, `null`. Never throws (a revoked Proxy has no constructor to read): a refusal
 * must not fail in turn.
 */
export function kindOf(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  let kind: string = typeof value;
  if (kind === 'object') {
    try {
      const name: unknown = (value as object).constructor?.name;
      kind = typeof name === 'string' && name !== '' ? name : 'object';
    } catch {
      kind = 'object';
    }
  }
  return `${/^[aeiou]/i.test(kind) ? 'an' : 'a'} ${kind}`;
}
