/**
 * A URL as log lines and errors name it: its query, if any, left out (`?…`), since a page's token
 * goes there (browsers set no headers on the upgrade: `path: '/skein?token=…'`).
 */
export function shownUrl(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : `${url.slice(0, q)}?…`;
}
