import { urlParts } from './url-parts.js';

/**
 * A URL as log lines and errors name it: its query, if any, left out (`?…`, with whatever
 * follows), since a page's token goes there (browsers set no headers on the upgrade:
 * `path: '/skein?token=…'`). The query is the one after the authority (`urlParts`).
 */
export function shownUrl(url: string): string {
  const { rest } = urlParts(url);
  const q = rest.indexOf('?');
  return q < 0 ? url : `${url.slice(0, url.length - rest.length + q)}?…`;
}
