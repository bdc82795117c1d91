import { urlParts, withoutLogin, type UrlParts } from './url-parts.js';

/*
 * A user and password written into an address (`wss://alice:pw@host/skein`, `alice:pw@host:7000`).
 * Nothing would send them (every transport dials host, port and path), so a login would fail as
 * if the server refused it: they are refused, and never repeated in a message, which may be
 * printed or logged. Read from the text's RFC 3986 parts (`urlParts`).
 */

/** A Unix socket path's `@` is its own (`unix:/run/a@b.sock`, `/run/a@b.sock`, ws's `ws+unix:`). */
const SOCKET_PATH = /^(?:(?:tls\+|ws\+)?unix:|\/)/i;

/** The schemes whose addresses have a query (WebSocket URLs): tcp://, tls:// and `host:port` have none. */
const WITH_QUERY = /^wss?:\/\/$/i;

/** An `@` after a `?`: in an address with no query, the rest of a password a `?` cut short. */
const AT_AFTER_QUERY = /\?[^]*@/;

/**
 * Whether a `/`, `?` or `#` in a password (seldom percent-encoded) may have ended the authority
 * early, its `@` then after it: a port that is no number (`ws://alice:pa/ss@host`, `user:/pw@h`),
 * a fragment right after the authority (`ws://alice:1#pw@host`), which no address has, or, in an
 * address that has no query (tcp://, tls://, `host:port`), a `?` before the `@`
 * (`tcp://alice:1234?pw@db:5432`). A number's `/` or `?` is a path's or a ws URL's query's
 * (`ws://alice:12/ss@host`, `ws://alice:12?ss@host`: host alice, port 12).
 */
const cutShort = (p: UrlParts): boolean =>
  p.rest.includes('@') && ((p.port !== undefined && !/^\d+$/.test(p.port)) || p.rest.startsWith('#') || (!WITH_QUERY.test(p.scheme) && AT_AFTER_QUERY.test(p.rest)));

/**
 * `text` without its login, or undefined when it has none: the authority's user info, or, for
 * a login cut short, everything up to the first `@` after the authority, and any login of what
 * follows (`ws://user:p/w@x@h/skein` is `ws://h/skein`, `tcp://u:1?p@w?x@h:1` is `tcp://h:1`).
 */
function afterLogin(text: string): string | undefined {
  if (SOCKET_PATH.test(text)) return undefined;
  const p = urlParts(text);
  if (p.userInfo !== undefined) return withoutLogin(p);
  if (!cutShort(p)) return undefined;
  const after = p.scheme + p.rest.slice(p.rest.indexOf('@') + 1);
  return afterLogin(after) ?? after;
}

/**
 * Whether `text` has a user (and password) before its host: user info in its authority, or a
 * login a password's `/`, `?` or `#` cut short (`cutShort`). A path's `@` (`ws://h:1/users/@me`),
 * a ws URL's query's and a fragment's after a path are not.
 */
export function hasUserInfo(text: string): boolean {
  return afterLogin(text) !== undefined;
}

/**
 * `text` as a message may show it: without its user and password (the `scheme://` kept); a
 * path's `@` is left as it is. A login cut short goes whole, so that no part of a password is
 * repeated, whatever else the message refuses the text for. A query, where the rest of a
 * password a `?` cut short may be, is left to `shownUrl`.
 */
export function withoutUserInfo(text: string): string {
  return afterLogin(text) ?? text;
}
