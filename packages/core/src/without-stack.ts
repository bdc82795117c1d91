/**
 * The error `make` returns, made without capturing a stack trace: its `stack` is its first line
 * alone (`RpcError: connection to ... lost`). For an error made where no caller's code is on the
 * stack, only the library's own (a socket's close handler, a timer, a signal's listener), and
 * often many in one turn (a connection lost with thousands of calls pending, a signal shared by
 * them aborted, a timeout sweep), where capturing the stacks was most of the turn's time and
 * they named nothing but those internals. An error a caller's own call raises at once (a
 * refused argument) should keep its stack: there it points at the caller's code.
 *
 * `Error.stackTraceLimit` is set to 0 for `make` alone and put back as it was, also when `make`
 * throws. `make` should only construct: code it runs (a callback) would make stackless errors too.
 */
export function withoutStack<E>(make: () => E): E {
  const made = atLimitZero(make);
  // Bun (JavaScriptCore) leaves `stack` undefined at limit 0: write the first line V8 would.
  // Only there: on V8 reading `stack` would format it, the cost this function avoids.
  if (!STACK_AT_LIMIT_ZERO && made instanceof Error && made.stack === undefined) giveStack(made, firstLine(made));
  return made;
}

/**
 * Defined, not assigned: Bun's error has no `stack` at all then, and an assignment would make an
 * enumerable one, which `Object.assign`, a spread and `JSON.stringify` copy (V8's, and Bun's own
 * otherwise, is not enumerable). Reflect's define fails quietly on a frozen error: it keeps none.
 */
function giveStack(err: Error, stack: string): void {
  Reflect.defineProperty(err, 'stack', { value: stack, writable: true, enumerable: false, configurable: true });
}

function atLimitZero<E>(make: () => E): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Whether this runtime gives an error made at limit 0 its first line as `stack` (V8 does), checked once. */
const STACK_AT_LIMIT_ZERO = typeof atLimitZero(() => new Error('probe')).stack === 'string';

/** V8's first line: `name: message`, or the one of them that is not empty. */
function firstLine(err: Error): string {
  const name = String(err.name ?? 'Error');
  const message = String(err.message ?? '');
  if (!name) return message;
  return message ? `${name}: ${message}` : name;
}
