import { parseAddress, shownAddress, shownUrl } from '@skein/core';

/**
 * A server's address (a member's key, or one as given) as a FailoverPool's log lines and errors
 * name it: core's `shownAddress`, a WebSocket URL's query (where a page's token goes) left out.
 * Text that is no address is cut at its `?` all the same (`shownUrl`): it is printed to say it
 * was refused, and may hold a token as well.
 */
export function shownServer(address: string): string {
  try {
    return shownAddress(parseAddress(address));
  } catch {
    return shownUrl(address);
  }
}
