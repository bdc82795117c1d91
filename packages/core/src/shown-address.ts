import { formatAddress, type Address } from './address.js';
import { shownUrl } from './shown-url.js';

/**
 * An address as log lines and error messages name it: `formatAddress`'s text with a WebSocket
 * URL's query left out (`ws://h:1/skein?…`), since a page's token goes there (browsers set no
 * headers on the upgrade) and logs and errors travel further than the address. Keys and dialling
 * keep `formatAddress`: two servers differing only in the query are still two. A socket path's
 * `?` is its own, kept.
 */
export function shownAddress(address: Address): string {
  return 'path' in address ? formatAddress(address) : shownUrl(formatAddress(address));
}
