import { ErrorCode, RpcError, type RemoteError, type RetryPolicy } from '@skein/core';

/**
 * What to do with a failed call: try the next server, stop here, or go to a named server (added
 * to the pool if it is not in it).
 */
export type FailoverDecision = 'next' | 'stop' | { readonly redirect: string };

/** What `shouldFailover` is told about the failed attempt. */
export interface FailedAttempt {
  readonly action: string | number;
  /** The server the attempt failed on. */
  readonly address: string;
  /** 0 for the first attempt. */
  readonly attempt: number;
  readonly idempotent: boolean;
  readonly route: string | undefined;
}

/**
 * The built-in rule: retry what certainly did not run (`retry: 'safe'`: never reached a server,
 * refused before dispatch); retry what may have run (`'idempotent'`: a timeout, a connection
 * lost after the write) only for idempotent calls; never retry the rest (the method's own
 * errors, bad input, errors another server would repeat).
 */
export function defaultDecision(err: RpcError | RemoteError, idempotent: boolean): FailoverDecision {
  if (!(err instanceof RpcError)) return 'stop';
  if (err.retry === 'safe') return 'next';
  if (err.retry === 'idempotent' && idempotent) return 'next';
  return 'stop';
}

/**
 * True when the attempt that failed with `err` may have run the call: anything but an error that
 * certainly did not (`retry: 'safe'`). A server's answer, whatever its code (Internal, a custom
 * error, a redirect), comes from a server that may have started the handler.
 */
export function mayHaveRun(err: RpcError | RemoteError): boolean {
  return !(err instanceof RpcError && err.retry === 'safe');
}

/**
 * What ends a stream that failed after it opened, or undefined when it may move to another
 * server as a call refused unrun does: only after an answer that says it never ran (a draining
 * server's bare Closed, a bare Overloaded at the stream cap), and only while the server said
 * nothing of it. Items or credit from the server say its handler ran, whatever the answer
 * claims. The items the client wrote meanwhile went to a server that dropped them: they move
 * with it, written again there, unless it wrote more than it keeps (`unkept`: past its
 * streamWindowBytes). The error ends as a call's final error does, with how many attempts it
 * took (`count`).
 */
export function openStreamFailure(err: Error, stream: { readonly unkept: boolean; readonly heard: boolean }, address: string, count: number): Error | undefined {
  if (!(err instanceof RpcError)) return err;
  // Lost or timed out (retry 'idempotent'): said in the words a plain call's final error uses. A
  // server's own answer (its handler's error) needs no note: it ran there, and says so itself.
  if (err.retry === 'idempotent') return noted(err, [`the stream may have executed on ${address}; not moved: an open stream moves only when its server answers that it never ran`], count, err.retry);
  if (mayHaveRun(err)) return noted(err, [], count, err.retry);
  if (stream.heard) {
    const why = `the stream may have executed on ${address}: its server sent items or credit before answering that it never ran; not moved`;
    return noted(err, [why], count, 'idempotent');
  }
  if (stream.unkept) {
    const why = `not moved to another server: it wrote more than its streamWindowBytes before the server spoke, more than a pool keeps to write again; it never ran on ${address} and read none of its items`;
    return noted(err, [why], count, 'safe');
  }
  return undefined;
}

/**
 * True when `err` is the client's own refusal of a request over its server's limits, unsent
 * (ClientStream, against the hello's answer: FrameTooLarge, `retry: 'safe'`). The server is fine
 * and saw nothing; the caller sent too much, and a fleet's servers share their limits as a rule,
 * so the call goes no further (a server's own FrameTooLarge is `retry: 'never'`).
 */
export function overLimitsUnsent(err: RpcError | RemoteError): boolean {
  return err instanceof RpcError && err.code === ErrorCode.FrameTooLarge && err.retry === 'safe';
}

/** True when retrying after `err` could run a non-idempotent call twice: no hook may override that. */
export function mayRunTwice(err: RpcError | RemoteError, idempotent: boolean): boolean {
  return !idempotent && mayHaveRun(err);
}

/**
 * What a call fails with when its `timeoutMs` (which bounds all its attempts) is over before a
 * retry could start: a Timeout that says what the last attempt met, and may have run where that
 * may have (`finalError` then says where, and that an earlier attempt may have).
 */
export function outOfTime(err: RpcError | RemoteError, timeoutMs: number): RpcError {
  const why = `no time left for another attempt within the call's timeoutMs (${timeoutMs} ms); the last one failed: ${err.message}`;
  return new RpcError(ErrorCode.Timeout, why, { cause: err, retry: mayHaveRun(err) ? 'idempotent' : 'safe' });
}

/**
 * What a call its own signal or abort source ended fails with when its attempt failed with
 * something else (`last`: its server unreachable, its connection lost), the abort found only
 * then, before another attempt (aborted before it was made, or as the attempt failed): the
 * abort's Cancelled, or Timeout for a timeout reason, as any aborted call's, with `retry: 'never'`
 * (its caller gave it up: nobody retries it for them), never `last`'s `'safe'`. Its words go on
 * with `final`, `last` as the final error says it (where the call may have run, how many
 * attempts it took); `last` is its cause. The abort's own error (told by the signal, or a
 * server's Cancelled) is final as it is.
 */
export function abortedFinal(aborted: RpcError, final: RpcError | RemoteError, last: RpcError | RemoteError): RpcError | RemoteError {
  if (last instanceof RpcError && last.retry === 'never' && (last.code === ErrorCode.Cancelled || last.code === ErrorCode.Timeout)) return final;
  return new RpcError(aborted.code, `${aborted.message}; before another attempt, the last one failed: ${final.message}`, { cause: last, retry: aborted.retry });
}

/** How a call's attempts went, for its final error. */
export interface Attempts {
  /** The server of the last attempt. */
  readonly address: string;
  readonly count: number;
  readonly idempotent: boolean;
  /** A server an earlier attempt may have executed on. */
  readonly mayHaveRunOn: string | undefined;
  /** Why the call stopped, when it is not the error itself. */
  readonly why?: string;
}

/**
 * The error the caller gets. Its `retry` never claims more safety than the attempts allow: a
 * call that may have run on some attempt says so (`retry: 'idempotent'` and the message), even
 * when its last attempt failed safely.
 */
export function finalError(err: RpcError | RemoteError, a: Attempts): RpcError | RemoteError {
  if (!(err instanceof RpcError)) return err;
  const notes: string[] = [];
  const earlier = a.mayHaveRunOn !== undefined && err.retry === 'safe';
  if (err.retry === 'idempotent') {
    notes.push(`the call may have executed on ${a.address}${a.idempotent ? '' : '; not retried: it is not idempotent'}`);
  } else if (earlier) {
    notes.push(`an earlier attempt may have executed on ${a.mayHaveRunOn}`);
  }
  if (a.why) notes.push(a.why);
  return noted(err, notes, a.count, earlier ? 'idempotent' : err.retry);
}

/**
 * `err` with `notes` on its attempts in one parenthesis, the attempt count last (from the
 * second attempt on): the wording calls' and streams' final errors share. `err` itself when
 * there is nothing to note.
 */
function noted(err: RpcError, notes: string[], count: number, retry: RetryPolicy): RpcError {
  if (count > 1) notes.push(`after ${count} attempts`);
  if (notes.length === 0) return err;
  return new RpcError(err.code, `${err.message} (${notes.join('; ')})`, { cause: err, retry });
}
