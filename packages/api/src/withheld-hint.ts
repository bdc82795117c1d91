import { CODE_INFO, ErrorCode, type RpcError } from '@skein/core';

/**
 * What the server's warn line adds when a handler's own error (not a downstream's passed on) lost
 * its words on the way to its caller (docs/protocol.md): the developer who threw it expected the
 * caller to read them. The words stay withheld by design; the line says how to send them, or
 * where the error belongs. Empty for a downstream's error: its words are another server's, and
 * the line is there to keep them.
 */
export function withheldHint(err: RpcError): string {
  if (err.downstream === true) return '';
  const wire = CODE_INFO[err.code].wire;
  const where = BELONGS_IN_A_FILTER[err.code] ?? '';
  return ` (thrown by the handler: its caller got ${wire} without these words;${where} to tell the caller why, throw InvalidArgument or PermissionDenied, or an error declared with .throws(codeErrors(...)), or set exposeInternalErrors; see docs/protocol.md)`;
}

/** Codes whose words, or whose meaning, a server filter's `before` keeps where a handler's lose them. */
const BELONGS_IN_A_FILTER: Partial<Record<ErrorCode, string>> = {
  // A filter's is the verdict on the caller's credentials, sent with its words (bearerAuth's).
  [ErrorCode.Unauthenticated]: ' a verdict on the caller\'s credentials belongs in a server filter\'s before (as bearerAuth), whose Unauthenticated keeps its words;',
  // A filter's (retry: 'safe') tells the caller the call never ran, so it may go elsewhere.
  [ErrorCode.Overloaded]: ' a refusal to run the call belongs in a server filter\'s before (as overloadShedding), which the caller reads as not run, safe to retry elsewhere;',
  [ErrorCode.Closed]: ' a refusal to run the call belongs in a server filter\'s before, which the caller reads as not run, safe to retry elsewhere;',
};
