/*
 * A user and password written into an address (`wss://alice:pw@host/skein`, `alice:pw@host:7000`).
 * Nothing would send them (every transport dials host, port and path), so a login would fail as
 * if the server refused it: they are refused, and never repeated in a message, which may be
 * printed or logged.
 */

/** A Unix socket path's `@` is its own (`unix:/run/a@b.sock`, `/run/a@b.sock`, ws's `ws+unix:`). */
const SOCKET_PATH = /^(?:(?:tls\+|ws\+)?unix:|\/)/i;

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * An authority that reads as `user:pw` cut short, not `host[:port]`: a `/`, `#` or `?` in a
 * password (seldom percent-encoded) ends it early (`ws://alice:pa/ss@host`, port "pa").
 */
const LOGIN_CUT_SHORT = /^[^[\]:@]*:(?!\d+$)/;

/** `text` split at its authority: after `scheme://` up to the first `/`, `?` or `#`; without a scheme (`user:pw@h:1`), up to the first `/`. */
function split(text: string): { scheme: string; authority: string; end: string; after: string } {
  const scheme = SCHEME.exec(text)?.[0] ?? '';
  const rest = text.slice(scheme.length);
  const at = rest.search(scheme === '' ? /\// : /[/?#]/);
  const cut = at < 0 ? rest.length : at;
  return { scheme, authority: rest.slice(0, cut), end: rest.charAt(cut), after: rest.slice(cut) };
}

/**
 * Whether `text` has a user (and password) before its host: an `@` in its authority, or (before
 * any query) after one that a `/` or `#` in a password cut short (`ws://alice:pa/ss@host`,
 * `ws://alice:1#pw@host`). A path's `@` (`ws://h:1/users/@me`), a fragment's after a path and a
 * query's are not.
 */
export function hasUserInfo(text: string): boolean {
  if (SOCKET_PATH.test(text)) return false;
  const { authority, end, after } = split(text);
  if (authority.includes('@')) return true;
  const q = after.indexOf('?');
  if (!(q < 0 ? after : after.slice(0, q)).includes('@')) return false;
  // No address has a fragment: a `#` right after the authority is a password's (`u:1#pw@h`).
  return end === '#' || (end === '/' && LOGIN_CUT_SHORT.test(authority));
}

/**
 * `text` as a message may show it: without its authority's user and password (kept after a
 * `scheme://`); a path's `@` is left as it is. Where a `/`, `#` or `?` may have ended a password
 * early (an authority of `user:pw` form, or one a `?` or `#` ends, with an `@` after it),
 * everything up to the last `@` goes, so that no part of a password is repeated, whatever else
 * the message refuses it for.
 */
export function withoutUserInfo(text: string): string {
  if (SOCKET_PATH.test(text) || !text.includes('@')) return text;
  const { scheme, authority, end, after } = split(text);
  if (authority.includes('@')) return scheme + authority.slice(authority.lastIndexOf('@') + 1) + after;
  if (!after.includes('@') || (end === '/' && !LOGIN_CUT_SHORT.test(authority))) return text;
  return scheme + after.slice(after.lastIndexOf('@') + 1);
}
