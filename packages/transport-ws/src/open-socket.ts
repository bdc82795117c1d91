import { invalidArgument } from '@skein/core';

/**
 * Makes a client's socket: a URL its constructor refuses (a host no URL has, `bad host`, `h%zz`,
 * given as an Address object, or a path the constructor will not take) is an InvalidArgument
 * naming `shown`, the URL without its query, not the raw SyntaxError, whose message holds the
 * whole URL and so a page's token.
 */
export function openSocket<S>(shown: string, make: () => S): S {
  try {
    return make();
  } catch (err) {
    throw invalidArgument(`cannot open a WebSocket to ${shown}: ${reason(err)}`);
  }
}

/** The constructor's reason, without its message: that one quotes the URL, query and all. */
function reason(err: unknown): string {
  return err instanceof Error ? err.name : 'refused';
}
