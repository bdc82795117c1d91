import { ErrorCode, RpcError } from '@skein/core';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { isThenable } from './thenable.js';

/**
 * Runs a Standard Schema. Returns the (possibly transformed) value, or throws an RpcError of
 * `code` whose message names `where` and the first failing path.
 */
export function validate<T>(
  schema: StandardSchemaV1<unknown, T>,
  value: unknown,
  where: string,
  code: ErrorCode,
): T | Promise<T> {
  let result: StandardSchemaV1.Result<T> | Promise<StandardSchemaV1.Result<T>>;
  try {
    result = schema['~standard'].validate(value);
  } catch (e) {
    throw tooDeep(e, where, code);
  }
  // Any thenable, made a native Promise for the callers' `instanceof Promise`: one from another
  // realm, read as a result, has no `issues` and would pass its value (undefined) unchecked.
  if (isThenable(result)) return Promise.resolve(result).then((r) => unwrap(r, where, code), (e: unknown) => Promise.reject(tooDeep(e, where, code)));
  return unwrap(result, where, code);
}

/**
 * A schema's stack overflow as the value's refusal (RpcError of `code`); any other error it
 * throws, unchanged. A recursive schema (a tree, `z.lazy`) recurses once per level of the value:
 * a value nested some 1,500 levels deep, which a codec with no depth limit reads (CBOR's default),
 * overflowed zod's stack, and the call failed with Internal on a server, and with a bare
 * RangeError, no RpcError, for a client whose reply it was.
 */
function tooDeep(e: unknown, where: string, code: ErrorCode): unknown {
  const overflow = e instanceof RangeError && e.message.startsWith('Maximum call stack size exceeded');
  return overflow ? new RpcError(code, `${where}: (root): nested too deep for the schema to check`, { cause: e }) : e;
}

function unwrap<T>(r: StandardSchemaV1.Result<T>, where: string, code: ErrorCode): T {
  if (!r.issues) return r.value;
  throw new RpcError(code, `${where}: ${describeIssues(r.issues)}`);
}

/**
 * The words for a Standard Schema's issues: the first three as `path: message` (`(root)` for
 * the value itself, `items[2].name` for a nested one), joined by `; `. Skein's own refusals of a
 * value a schema rejects (a bad argument, a bad result) say this after what was checked; it is
 * exported so that code running a schema of its own (a filter, a handler checking part of its
 * input) words its refusals the same way.
 */
export function describeIssues(issues: readonly StandardSchemaV1.Issue[]): string {
  return issues
    .slice(0, 3)
    .map((i) => `${formatPath(i.path) || '(root)'}: ${i.message}`)
    .join('; ');
}

function formatPath(path: StandardSchemaV1.Issue['path']): string {
  if (!path) return '';
  return path
    .map((p) => (typeof p === 'object' ? p.key : p))
    .map((k) => (typeof k === 'number' ? `[${k}]` : `.${String(k)}`))
    .join('')
    .replace(/^\./, '');
}
