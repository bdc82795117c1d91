/**
 * An address's or a URL's text in its RFC 3986 parts, read once for every reader of a login or a
 * query (hasUserInfo, withoutUserInfo, shownUrl): after `scheme://`, the authority runs to the
 * first `/`, `?` or `#` (§3.2), whatever follows (`ws://alice:12/ss@host` is host `alice`, port
 * `12`, path `/ss@host`), and is `[userinfo@]host[:port]`, the userinfo up to its last `@` (as the
 * WHATWG URL parser reads it). Text without a scheme (`h:1`, `user:pw@h:1`) is read the same way.
 * Nothing is checked: a port is kept as written (`alice:pa`), for the readers to judge.
 */
export interface UrlParts {
  /** `ws://` as written, or '' without one. */
  readonly scheme: string;
  /** Before the authority's last `@`; none without an `@` there. */
  readonly userInfo?: string;
  /** `h`, or `[::1]` with its brackets. */
  readonly host: string;
  /** After the host's `:`, digits or not; none without a `:`. */
  readonly port?: string;
  /** Path, query and fragment: '', or from the `/`, `?` or `#` that ends the authority. */
  readonly rest: string;
}

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/** A host (an IP literal in brackets, or up to a `:`) and what follows its `:`. */
const HOST_PORT = /^(\[[^\]]*\](?=:|$)|[^:]*)(?::([^]*))?$/;

export function urlParts(text: string): UrlParts {
  const scheme = SCHEME.exec(text)?.[0] ?? '';
  const tail = text.slice(scheme.length);
  const end = tail.search(/[/?#]/);
  const authority = end < 0 ? tail : tail.slice(0, end);
  const at = authority.lastIndexOf('@');
  const [, host = '', port] = HOST_PORT.exec(authority.slice(at + 1))!;
  return { scheme, ...(at >= 0 && { userInfo: authority.slice(0, at) }), host, ...(port !== undefined && { port }), rest: end < 0 ? '' : tail.slice(end) };
}

/** The parts' text without their user info: `scheme://host[:port]rest`. */
export function withoutLogin(p: UrlParts): string {
  return `${p.scheme}${p.host}${p.port !== undefined ? `:${p.port}` : ''}${p.rest}`;
}
