import { parseAddress, type Address, type AddressScheme } from './address.js';
import { invalidArgument } from './rpc-error.js';
import { shownAddress } from './shown-address.js';

/** The forms each kind of transport takes, for the error that refuses another's. */
const TAKES: Record<AddressScheme, string> = {
  tcp: 'host:port, tcp://host:port, tls://host:port, unix:/path, tls+unix:/path or /path',
  ws: 'host:port, tls://host:port, ws://host[:port][/path], wss://host[:port][/path], unix:/path, tls+unix:/path or /path',
};
const OWNER: Record<AddressScheme, string> = { tcp: 'tcpTransport', ws: 'wsTransport or uwsTransport' };

/**
 * `address` read (parseAddress) and checked for a transport of `kind`, named `who` in the error:
 * InvalidArgument, before anything is dialled or bound, when it was written for the other kind
 * (for TCP, also an Address object with a WebSocket `urlPath`). Without this the TCP transport
 * dialled `ws://host:port` as plain TCP. `tls://` (and `tls+unix:`) asks for TLS and names no
 * transport: the WebSocket transport dials `tls://host:port` as wss:// (a wss server's canonical
 * address was `tls://host:port` until ws:// kept its scheme, and discovery entries hold it so).
 */
export function addressFor(kind: AddressScheme, address: string | Address, who: string): Address {
  const at = parseAddress(address);
  if ('path' in at) return at;
  const other = at.scheme !== undefined && at.scheme !== kind ? at.scheme : kind === 'tcp' && at.urlPath !== undefined ? 'ws' : undefined;
  if (other === undefined) return at;
  const schemes = other === 'ws' ? 'ws:// and wss:// addresses are' : 'a tcp:// address is';
  throw invalidArgument(`${who} cannot use ${written(at)}: ${schemes} for ${OWNER[other]}; ${who} takes ${TAKES[kind]}`);
}

/**
 * The address as it was written, as errors name it: `shownAddress` (a ws URL's query, where a
 * page's token goes, left out: the refusal may be logged), but `tcp://` kept (canonically dropped).
 */
const written = (at: Address): string => (!('path' in at) && at.scheme === 'tcp' && !at.tls ? `tcp://${shownAddress(at)}` : shownAddress(at));
