import { CODE_INFO, ErrorCode, type RpcError } from '@skein/core';

/**
 * The message to send after a built-in error's reserved string, if any. Skein's own codes
 * (100 and up) always carry theirs; razor-rpc's carry it only when `expose` is set, because a
 * razor peer would read a detailed string as a custom error. For the server's own words (a
 * refusal before any handler ran); a handler's error goes through `handlerErrorDetail`.
 */
export function errorDetail(err: RpcError, expose = false): string | undefined {
  if (!hasWords(err) || err.message === err.wire) return undefined;
  return err.code >= 100 || expose ? err.message : undefined;
}

/**
 * Whether the error's message is a string: one set to something else after its construction (a
 * Symbol, an object whose `toString` throws) would throw where the answer is written, after the
 * call was claimed, leaving it unanswered. Without words it travels as its code alone.
 */
const hasWords = (err: RpcError): boolean => typeof err.message === 'string';

/**
 * The detail for an error answered once a handler has started. A code that says "refused unrun"
 * (Overloaded, Closed: a downstream's refusal the handler passes on) must not say so to this
 * caller, for the handler may have done its work before it failed: it always travels with a
 * detail naming the action, which a client reads as "may have run". (Unreachable, razor's code,
 * needs none: no client reads it from the wire as unrun.) Without `expose`, the error's own
 * message travels only for the codes a handler raises about the caller's request (bad input, not
 * allowed: words meant for the caller). The others' are what the handler got, often a
 * downstream's words about itself (`stream to 10.1.2.3:7000 is closed`, a host name): this
 * server's internals, so Skein's codes travel as `${action}: ${wire}` and razor's bare.
 */
export function handlerErrorDetail(err: RpcError, action: string, expose = false): string | undefined {
  if (expose || speaksToCaller(err)) return passedOnDetail(err, action, true) ?? errorDetail(err, expose);
  return err.code >= 100 ? `${action}: ${CODE_INFO[err.code].wire}` : undefined;
}

/**
 * Codes whose words a handler writes for its caller: its input, its right to call. Not when a
 * Skein client gave the error (`RpcError.downstream`): a downstream's "user 42 not found in
 * shard db-7" passed on as it is is about the handler's call, not the caller's; to pass its
 * verdict on, a handler makes it its own (`throw invalidArgument(err.message)`). Not
 * Unauthenticated: a handler's is about its own calls (its credentials for a downstream could
 * not be fetched, a downstream refused its certificate), this server's internals.
 */
const ABOUT_THE_REQUEST: ReadonlySet<ErrorCode> = new Set([ErrorCode.InvalidArgument, ErrorCode.PermissionDenied]);
/**
 * A `before` filter's, and Unauthenticated: a filter's is its verdict on the caller's
 * credentials (bearerAuth's "no bearer token", "token expired"), which the caller needs.
 */
const FILTER_ABOUT_THE_REQUEST: ReadonlySet<ErrorCode> = new Set([...ABOUT_THE_REQUEST, ErrorCode.Unauthenticated]);

/**
 * Whether an error, from a handler or a `before` filter, speaks to its caller (bad input, not
 * allowed; for a filter also not authenticated) and is its own (not `downstream`): its words
 * travel to the caller and are not the server's trouble. Any other's words stay on the server
 * without `expose` (see `handlerErrorDetail`, `refusalDetail`), so a dispatch logs them there
 * (`${action} failed with ${codeName}`, at warn; see `WithheldLog`), or nobody sees why it
 * failed. Given a code alone, whether that code's words travel when the error is the server's own.
 */
export function speaksToCaller(err: RpcError | ErrorCode, from: 'handler' | 'filter' = 'handler'): boolean {
  const codes = from === 'filter' ? FILTER_ABOUT_THE_REQUEST : ABOUT_THE_REQUEST;
  return typeof err === 'number' ? codes.has(err) : codes.has(err.code) && err.downstream !== true;
}

/**
 * The detail an RpcError of a "refused unrun" code needs when a handler answers with it as it is
 * (`req.fail(err)`): it is what the handler got, a downstream's refusal perhaps, and says nothing
 * of whether this call ran; bare, it would tell the client that it never did. Undefined for the
 * other codes, which say nothing of the kind. The error's message only with `expose` (see
 * `handlerErrorDetail`); a request has no such option, so `req.fail(err)` never sends it.
 */
export function passedOnDetail(err: RpcError, action: string, expose = false): string | undefined {
  if (!(err.code >= 100 && CODE_INFO[err.code].retry === 'safe')) return undefined;
  // Whatever was passed (an object with a code, not an RpcError): a detail all the same.
  const own = expose && typeof err.message === 'string' && err.message !== '';
  return `${action}: ${own ? err.message : CODE_INFO[err.code].wire}`;
}

/**
 * The detail for a refusal before any handler ran (a server filter's Overloaded, bad input). A
 * refusal that is safe to retry elsewhere travels bare, the one form a client reads as unrun;
 * but only if the error itself says it never ran. One a filter passes on from a call of its
 * own that may have run (its `retry` is not 'safe') keeps a detail: a client retrying the call
 * on another server would run that downstream call again. That detail is the downstream's own
 * message only with `expose` (see `handlerErrorDetail`); without it, `${action}: ${wire}` when
 * `action` is given.
 */
export function refusalDetail(err: RpcError, expose = false, action?: string): string | undefined {
  if (CODE_INFO[err.code].retry !== 'safe') {
    // A filter's error (`action` given) keeps its words as a handler's does: only about the request.
    if (action === undefined || expose || err.code < 100 || speaksToCaller(err, 'filter')) return errorDetail(err, expose);
    return `${action}: ${CODE_INFO[err.code].wire}`;
  }
  if (err.retry === 'safe' || err.code < 100) return undefined;
  if (expose || action === undefined) return hasWords(err) && err.message !== '' ? err.message : err.wire;
  return `${action}: ${CODE_INFO[err.code].wire}`;
}

/** How errors and logs name an action: `Service.method` as it is, a number as `action 7`. */
export function actionName(action: string | number): string {
  return typeof action === 'number' ? `action ${action}` : action;
}

/** The detail for a handler's crash (anything but an RpcError): its message, only when exposed. */
export function crashDetail(err: unknown, action: string, expose = false): string | undefined {
  return expose ? `${action}: ${err instanceof Error ? err.message : String(err)}` : undefined;
}
