/**
 * `copy` (a copy of `original` under other words, made `withoutStack`) with `original`'s stack
 * frames under its own first line: a stub names an error its Caller failed a call with, and the
 * copy's stack says no more than the original's. A stackless original (a lost connection's IO,
 * a shared signal's Cancelled: made for many calls in one turn) leaves the copy stackless; one
 * with frames (a refusal raised at once in the caller's own call) keeps pointing at that code,
 * not at the stub's internals. Capturing a fresh stack per copy was most of such a turn's time.
 *
 * Reading `original.stack` formats it: about as costly as a capture for one with frames, far
 * less for a stackless one, and cheaper either way than a lazy getter defined on each copy.
 */
export function withFramesOf<E extends Error>(original: Error, copy: E): E {
  const frames = framesOf(original);
  if (frames !== '') copy.stack = `${headOf(copy)}${frames}`;
  return copy;
}

/** The text after an error's first line (its message may span lines), from its newline on; '' for none. */
function framesOf(err: Error): string {
  const stack = readStack(err);
  if (typeof stack !== 'string') return '';
  const head = headOf(err);
  // Its first line whole: a formatter that writes `RpcError: ` for an empty message (V8 writes
  // `RpcError`) would otherwise leave its `: ` on the copy's first line.
  if (stack.startsWith(head) && (stack.length === head.length || stack.charCodeAt(head.length) === NEWLINE)) return stack.slice(head.length);
  // Formatted before its message changed, or by another formatter: V8's frames start so.
  const at = stack.indexOf(FRAME);
  return at < 0 ? '' : stack.slice(at);
}

const FRAME = '\n    at ';
const NEWLINE = 0x0a;

/** An error's first line as V8 (and Node's formatter) writes it: `Error.prototype.toString`'s. */
const headOf = (err: Error): string => Error.prototype.toString.call(err);

/**
 * `err.stack`, or undefined when reading it throws: a user's `Error.prepareStackTrace` that fails
 * (V8 formats the stack at this first read), a getter put on the error. The call's error must
 * stay its RpcError, not become the formatter's: a copy without frames is all that is lost.
 */
function readStack(err: Error): unknown {
  try {
    return err.stack;
  } catch {
    return undefined;
  }
}
