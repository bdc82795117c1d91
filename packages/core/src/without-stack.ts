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
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}
