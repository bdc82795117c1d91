/*
 * A user and password written into an address (`wss://alice:pw@host/skein`, `alice:pw@host:7000`).
 * Nothing would send them (every transport dials host, port and path), so a login would fail as
 * if the server refused it: they are refused, and never repeated in a message, which may be
 * printed or logged.
 */

/** A Unix socket path's `@` is its own (`unix:/run/a@b.sock`, `/run/a@b.sock`, ws's `ws+unix:`). */
const SOCKET_PATH = /^(?:(?:tls\+|ws\+)?unix:|\/)/i;

/** Everything up to the last `@`, after any `scheme://`: a password with a `/` or `#` in it (not percent-encoded) goes too. */
const USER_INFO = /^([a-z][a-z0-9+.-]*:\/\/)?[^]*@/i;

/**
 * Whether `text` has a user (and password) before its host: an `@` before its query. A `/` or a
 * `#` in a password ends no login here (`ws://alice:pa/ss@host`), as it is seldom
 * percent-encoded; a query's `@` (`ws://h/skein?mail=a@b`) is the server's to read.
 */
export function hasUserInfo(text: string): boolean {
  if (SOCKET_PATH.test(text)) return false;
  const q = text.indexOf('?');
  return (q < 0 ? text : text.slice(0, q)).includes('@');
}

/**
 * `text` as a message may show it: without anything up to its last `@` (kept after a
 * `scheme://`) when it is no socket path, so that no part of a password is repeated, whatever
 * else the message refuses it for (a query's `@` cuts the shown text short: only a message's).
 */
export function withoutUserInfo(text: string): string {
  return SOCKET_PATH.test(text) || !text.includes('@') ? text : text.replace(USER_INFO, '$1');
}
