import { readFileSync } from 'node:fs';
import { hasUserInfo, invalidArgument, parseAddress, shownUrl, withoutUserInfo, wrongPemKind, type Address, type PemWanted, type TlsOptions, type Transport } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tcpTransport } from '@skein/transport-tcp';
import { wsTransport } from '@skein/transport-ws';

/** Where the CLI connects: a transport, an address on it, and how to name both in messages. */
export interface Target {
  readonly transport: Transport;
  readonly address: Address;
  /** `tcp`, `unix`, `tls`, `ws` or `wss`: what the user asked for, for messages and hints. */
  readonly kind: 'tcp' | 'unix' | 'tls' | 'ws' | 'wss';
  /** The address as the user gave it, trimmed. */
  readonly text: string;
}

/** Files and names for a TLS connection (`--ca`, `--cert`, `--key`, `--servername`). */
export interface TlsFlags {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
}

/**
 * A URL as messages show it: without a user and password (`ws://alice:pw@host`), which a
 * message, printed and perhaps logged, must not repeat, whatever else it refuses the URL for,
 * and without its query (a token, or the rest of a password a `?` ended: `tcp://u:1?pw@h:1`),
 * as parseAddress's own messages show an address (core's `withoutUserInfo` and `shownUrl`).
 */
const shown = (text: string): string => JSON.stringify(shownUrl(withoutUserInfo(text)));

const FORMS = 'host:port, tcp://host:port, tls://host:port, unix:/path, tls+unix:/path, ws://host[:port][/path], wss://host[:port][/path] or ws+unix:/path';

/**
 * Reads an ADDR argument. Everything but WebSocket URLs goes through core's `parseAddress` (one
 * grammar for every Skein address: `tls://` and `tls+unix:` ask for TLS); `ws://` and `wss://`
 * URLs name the WebSocket transport, and are read by parseAddress too once the CLI's own checks
 * (a fragment, a login, a URL at all) have named a mistake: their endpoint path is core's (none
 * is the transport's default, `/skein`; `?q` with no path is `/?q`), and without a port they mean
 * 80 or 443, as a browser dials them. Anything else throws InvalidArgument
 * listing the forms. `timeoutMs` bounds a wss:// TLS handshake (the runtime's own default, 10 s,
 * otherwise); a tls:// one is bounded by the connect's own timeout, TCP and TLS together.
 */
export function parseTarget(input: string, tlsFlags: TlsFlags = {}, timeoutMs?: number): Target {
  const text = input.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(text)?.[1]?.toLowerCase();
  const wantsTls = Object.values(tlsFlags).some((v) => v !== undefined);
  const wsUnix = /^ws\+unix:/i.test(text);
  if (scheme === 'ws' || scheme === 'wss' || wsUnix) {
    if (wantsTls && scheme !== 'wss') throw invalidArgument(`--ca, --cert, --key and --servername are for tls://, tls+unix: and wss:// addresses, not ${shown(text)}`);
    return wsUnix ? { transport: wsTransport(), address: unixPath(text.slice(8), text), kind: 'ws', text } : wsTarget(text, scheme === 'wss', tlsFlags, timeoutMs);
  }
  if (scheme !== undefined && scheme !== 'tcp' && scheme !== 'tls') {
    throw invalidArgument(`cannot reach ${shown(text)}: no transport for ${scheme}:// (use ${FORMS})`);
  }
  // Nothing would send them; said so, as for ws:// URLs, and not echoed (core's parseAddress
  // refuses them too, but its message, caught below, would become "not an address").
  if (hasUserInfo(text)) throw invalidArgument(`${shown(text)}: a user and password in the address are not sent; remove them (use ${FORMS})`);
  const address = readAddress(text, 'not an address', `use ${FORMS}`);
  // One budget for TCP and TLS: the connect's `timeoutMs` (`--timeout`) counts through the
  // handshake, and the handshake's own bound is `--timeout` too, not core's 10 s default (which
  // cut a `--timeout 15000` handshake at 10 s); the connect takes the shorter of the two, so
  // this adds nothing to the budget.
  if (address.tls) return { transport: tcpTransport(nodeRuntime, { tls: tlsOptions(tlsFlags, timeoutMs) }), address, kind: 'tls', text };
  if (wantsTls) throw invalidArgument(`--ca, --cert, --key and --servername are for tls://, tls+unix: and wss:// addresses, not ${shown(text)}`);
  return { transport: tcpTransport(nodeRuntime), address, kind: 'path' in address ? 'unix' : 'tcp', text };
}

function wsTarget(text: string, secure: boolean, tlsFlags: TlsFlags, timeoutMs: number | undefined): Target {
  const form = `${secure ? 'wss' : 'ws'}://host[:port][/path]`;
  // `ws://u:p#w@host` reads as host `u` with a fragment: "not a URL", or worse, another host.
  // RFC 6455 allows no fragment, so any `#` is a mistake: said as such.
  if (text.includes('#')) {
    const login = hasUserInfo(text) ? '; a user and password in the URL are not sent anyway: remove them' : '';
    throw invalidArgument(`${shown(text)}: a '#' starts a URL fragment, so nothing after it is read as the address (percent-encode a '#' in a path or password as %23${login}) (want ${form})`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidArgument(`not a WebSocket URL: ${shown(text)} (want ${form})`);
  }
  // Nothing would send them (the WebSocket transport dials host, port and path): dropped in
  // silence, a login would fail as if the server refused it. Not echoed: the message may be logged.
  if (url.username !== '' || url.password !== '') {
    throw invalidArgument(`${secure ? 'wss' : 'ws'}://${url.host}${url.pathname}: user and password in the URL are not sent; remove them (want ${form})`);
  }
  // Core's reading of the URL, not one of the CLI's own: the same address is the same endpoint
  // here as in a pool, a discovery entry or a server's config. No path is the transport's default
  // one (`/skein`); a path is dialled as written, `/` too; a query with no path has the path `/`
  // (`wss://h:1?token=…` dials `/?token=…`, RFC 3986 §6.2.3, as a browser dials it); no port is
  // 80 or 443 (a URL drops its scheme's own: `wss://h:443` has port '').
  const address = readAddress(text, 'not a WebSocket URL', `want ${form}`);
  const transport = wsTransport(secure ? { tls: tlsOptions(tlsFlags, timeoutMs) } : {});
  return { transport, address, kind: secure ? 'wss' : 'ws', text };
}

/**
 * Core's reading of `text`, refused in the CLI's words (`not an address: "h:99999"`), with the
 * forms the CLI takes. Core's own reason is kept where it says more than that (`port 99999 is not
 * in 0..65535`); its generic one lists core's forms, which are not all the CLI's.
 */
function readAddress(text: string, refusal: string, forms: string): Address {
  try {
    return parseAddress(text);
  } catch (e) {
    const reason = e instanceof Error && !e.message.startsWith('not an address') ? `: ${e.message}` : '';
    throw invalidArgument(`${refusal}: ${shown(text)}${reason} (${forms})`);
  }
}

function unixPath(path: string, text: string): Address {
  if (!path.startsWith('/')) throw invalidArgument(`${JSON.stringify(text)}: want ws+unix:/absolute/socket/path`);
  return parseAddress({ path });
}

/**
 * The TLS options the flags give; none: the runtime's default CAs, and the host as the name to
 * verify. `timeoutMs` bounds the handshake where the connect's own timer does not (wss://): a
 * server that accepts and never answers the ClientHello would otherwise hold the command for
 * the runtime's 10 s whatever `--timeout` says.
 */
function tlsOptions(flags: TlsFlags, timeoutMs: number | undefined): TlsOptions {
  if ((flags.cert === undefined) !== (flags.key === undefined)) throw invalidArgument('--cert and --key go together (a client certificate and its key)');
  const o: TlsOptions = {};
  if (timeoutMs !== undefined) o.handshakeTimeoutMs = timeoutMs;
  if (flags.ca !== undefined) o.ca = readPem(flags.ca, '--ca', 'certificate');
  if (flags.cert !== undefined && flags.key !== undefined) Object.assign(o, readPair(flags.cert, flags.key));
  if (flags.servername !== undefined) o.servername = flags.servername;
  return o;
}

/**
 * The certificate and key files, each checked to hold what its flag wants: a mix-up is named
 * here, by file, before connecting (the TLS library says only "no start line").
 */
function readPair(certFile: string, keyFile: string): { cert: string; key: string } {
  const cert = readFile(certFile, '--cert');
  const key = readFile(keyFile, '--key');
  const certWrong = wrongPemKind(cert, 'certificate');
  const keyWrong = wrongPemKind(key, 'private key');
  if (certWrong !== undefined) throw invalidArgument(`--cert ${certFile} ${certWrong}${keyWrong !== undefined ? ' (--cert and --key swapped?)' : ''}`);
  if (keyWrong !== undefined) throw invalidArgument(`--key ${keyFile} ${keyWrong}`);
  return { cert, key };
}

function readPem(file: string, flag: string, want: PemWanted): string {
  const pem = readFile(file, flag);
  const wrong = wrongPemKind(pem, want);
  if (wrong !== undefined) throw invalidArgument(`${flag} ${file} ${wrong}`);
  return pem;
}

function readFile(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw invalidArgument(`${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}
