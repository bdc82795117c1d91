import { invalidArgument } from './rpc-error.js';
import { shownUrl } from './shown-url.js';
import { hasUserInfo, withoutUserInfo } from './user-info.js';

/**
 * Where to connect or listen: a TCP host and port, or a Unix socket path. `tls` asks for TLS
 * (the transport's TLS options say with which certificates); `urlPath` is a WebSocket URL's path.
 * `scheme` is the transport the address was written for (`tcp` for tcp://, `ws` for ws:// and
 * wss://; none for `host:port`, and none for tls://, which asks for TLS on any transport, as
 * `tls+unix:` does): a transport refuses an address written for another (see `addressFor`)
 * rather than dial it in its own protocol.
 */
export type Address =
  | { readonly host: string; readonly port: number; readonly tls?: boolean | undefined; readonly urlPath?: string | undefined; readonly scheme?: AddressScheme | undefined }
  | { readonly path: string; readonly tls?: boolean | undefined };

/** The transport a `scheme://` names: `tcp` (tcp://) or `ws` (ws://, wss://); tls:// names none. */
export type AddressScheme = 'tcp' | 'ws';

/** Every form `parseAddress` reads, for the errors that refuse one. */
export const ADDRESS_FORMS = 'host:port, [::1]:port, tcp://host:port, tls://host:port, ws://host[:port][/path], wss://host[:port][/path], unix:/path, tls+unix:/path or /path';

/**
 * The port a WebSocket URL without one means (RFC 6455 §3, as every browser dials it): 80 for
 * ws://, 443 for wss://. tcp://, tls:// and `host:port` have no standard port: a port is required.
 */
const WS_DEFAULT_PORT = { ws: 80, wss: 443 } as const;

/**
 * Accepts `host:port`, `tcp://host:port`, `tls://host:port`, `ws://host[:port]/path`,
 * `wss://host[:port]/path` (a query with or without a path: `wss://h?q` dials `/?q`),
 * `[::1]:port`, `unix:/path`, `tls+unix:/path`, `/absolute/path`, or an Address object. A ws://
 * or wss:// URL without a port gets 80 or 443, as a browser dials it (a URL copied from a page or
 * a proxy's config has none). A scheme is read in any case (`WSS://`,
 * RFC 3986 §3.1). A host is kept as written (`API.example.com`: what logs and errors name, and a
 * TLS servername, which certificates match in any case); a pool's key folds it (`serverKey`).
 * Throws InvalidArgument on anything else, and on a user and password (`wss://u:p@h/skein`):
 * nothing would send them, and the message leaves them out.
 */
export function parseAddress(input: string | Address): Address {
  if (typeof input !== 'string') return checkAddress(input);
  const s = input.trim();
  for (const [scheme, tls] of [['unix:', false], ['tls+unix:', true]] as const) {
    if (s.slice(0, scheme.length).toLowerCase() === scheme) return checkAddress(withTls({ path: s.slice(scheme.length).replace(/^\/\/(?=\/)/, '') }, tls));
  }
  if (s.startsWith('/')) return checkAddress({ path: s });
  // Read as part of the host (`u:p@h`) it was dialled, or "not an address" echoing the password.
  if (hasUserInfo(s)) throw invalidArgument(`${JSON.stringify(withoutUserInfo(s))}: a user and password in the address are not sent; remove them (want ${ADDRESS_FORMS})`);
  const scheme = /^(tcp|tls|ws|wss):\/\//i.exec(s)?.[1]?.toLowerCase();
  const rest = scheme === undefined ? s : s.slice(scheme.length + 3);
  const web = scheme === 'ws' || scheme === 'wss';
  // A host ends at a port, a path, a query or a fragment: `wss://h?x` is host `h` on 443, query `x`.
  const m = (web ? WS_ADDRESS : /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/).exec(rest);
  // A query left out: a token in it would be in the error (a bad host, `ws://a b/skein?token=…`),
  // as would the rest of a password a `?` ended early (`tcp://user:1?pw@h:1`).
  if (!m) throw invalidArgument(`not an address: ${JSON.stringify(shownUrl(withoutUserInfo(input)))} (want ${ADDRESS_FORMS})`);
  const port = m[3] !== undefined ? Number(m[3]) : WS_DEFAULT_PORT[scheme as 'ws' | 'wss'];
  const address = { host: m[1] ?? m[2]!, port, ...(m[4] ? { urlPath: resourceName(m[4]) } : {}), ...(scheme !== undefined && scheme !== 'tls' && { scheme: web ? 'ws' : 'tcp' } as const) };
  return checkAddress(withTls(address, scheme === 'tls' || scheme === 'wss'));
}

/**
 * A ws:// or wss:// address after its scheme: an IPv6 literal in brackets, or a host without a
 * character the URL parser refuses in one (whitespace, `%`, controls, `<>[\]^|`, WHATWG URL's
 * forbidden host code points), so that what is accepted here is dialled, not refused by the
 * client's `new WebSocket` with the whole URL, token and all, in its message.
 */
const WS_ADDRESS = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s%:/?#<>@[\\\]^|\x00-\x1f\x7f]+))(?::(\d+))?([/?][^#]*)?$/;

/**
 * A URL's path and query as dialled: a query with no path (`wss://h?q`) has the path `/` (RFC
 * 3986 §6.2.3, RFC 6455 §3's resource name, as the WHATWG URL reads it), so `/?q`.
 */
const resourceName = (pathAndQuery: string): string => (pathAndQuery.startsWith('?') ? `/${pathAndQuery}` : pathAndQuery);

const withTls = <A extends Address>(a: A, tls: boolean): A => (tls ? { ...a, tls: true } : a);

function checkAddress(a: Address): Address {
  if ('path' in a) {
    if (typeof a.path !== 'string' || a.path.length === 0) throw invalidArgument('unix socket path is empty');
    return a;
  }
  if (typeof a.host !== 'string' || a.host.length === 0) throw invalidArgument('host is empty');
  if (a.scheme !== undefined && a.scheme !== 'tcp' && a.scheme !== 'ws') throw invalidArgument(`scheme ${JSON.stringify(a.scheme)} is not 'tcp' or 'ws'`);
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 65535) {
    throw invalidArgument(`port ${a.port} is not in 0..65535`);
  }
  return a;
}

/**
 * An Address as the text `parseAddress` reads back to it: `host:port` (`[::1]:port` for IPv6),
 * `unix:/path`, with TLS `tls://host:port` or `tls+unix:/path`, and a WebSocket address (a URL
 * path, or written `ws://`) as `ws://` or `wss://host:port[/path]`, its port always written, a
 * default one too (`wss://h/p` is `wss://h:443/p`): one text per server (a pool's key, a
 * discovery entry), naming the port dialled, and read by parsers older than the default. What
 * log lines and errors name a peer or listener with (through `shownAddress`, a URL's query left
 * out), and how an address given as an object is
 * passed on where a string is wanted (`tcp://` is dropped; `ws://h:1` keeps its scheme, so that
 * the transport it reaches can still refuse it; `tls://h:1` stays TLS on whichever transport
 * dials it).
 */
export function formatAddress(a: Address): string {
  if ('path' in a) return `${a.tls ? 'tls+unix' : 'unix'}:${a.path}`;
  const hostPort = a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
  if (a.urlPath !== undefined || a.scheme === 'ws') return `${a.tls ? 'wss' : 'ws'}://${hostPort}${a.urlPath ?? ''}`;
  return a.tls ? `tls://${hostPort}` : hostPort;
}
