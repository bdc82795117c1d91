import { describe, expect, it } from 'vitest';
import { ADDRESS_FORMS } from '../src/address.js';
import { ErrorCode, RpcError, addressFor, formatAddress, parseAddress, shownAddress } from '../src/index.js';

describe('parseAddress', () => {
  it.each([
    ['127.0.0.1:4000', { host: '127.0.0.1', port: 4000 }],
    ['tcp://localhost:1', { host: 'localhost', port: 1, scheme: 'tcp' }],
    ['[::1]:9', { host: '::1', port: 9 }],
    ['unix:/tmp/a.sock', { path: '/tmp/a.sock' }],
    ['/tmp/b.sock', { path: '/tmp/b.sock' }],
    ['tls://db-1.internal:7000', { host: 'db-1.internal', port: 7000, tls: true }],
    ['tls://[::1]:7000', { host: '::1', port: 7000, tls: true }],
    ['tls+unix:/tmp/c.sock', { path: '/tmp/c.sock', tls: true }],
    ['wss://example.com:443/rpc/v1?x=1', { host: 'example.com', port: 443, tls: true, urlPath: '/rpc/v1?x=1', scheme: 'ws' }],
    ['wss://example.com:443', { host: 'example.com', port: 443, tls: true, scheme: 'ws' }],
    // A query with no path has the path `/` (RFC 3986, as the WHATWG URL reads it): refused before.
    ['wss://example.com?x=1', { host: 'example.com', port: 443, tls: true, urlPath: '/?x=1', scheme: 'ws' }],
    ['ws://[::1]:2?token=t', { host: '::1', port: 2, urlPath: '/?token=t', scheme: 'ws' }],
    // Written for the WebSocket transport, path or none: a TCP transport refuses it (addressFor).
    ['ws://127.0.0.1:80', { host: '127.0.0.1', port: 80, scheme: 'ws' }],
    ['ws://127.0.0.1:80/skein', { host: '127.0.0.1', port: 80, urlPath: '/skein', scheme: 'ws' }],
    // A WebSocket URL without a port means the standard one (RFC 6455 §3), as a browser dials it:
    // a URL copied from a page or a proxy's config was "not an address".
    ['wss://api.example.com/skein', { host: 'api.example.com', port: 443, tls: true, urlPath: '/skein', scheme: 'ws' }],
    ['wss://api.example.com', { host: 'api.example.com', port: 443, tls: true, scheme: 'ws' }],
    ['ws://api.example.com/skein?token=t', { host: 'api.example.com', port: 80, urlPath: '/skein?token=t', scheme: 'ws' }],
    ['ws://api.example.com', { host: 'api.example.com', port: 80, scheme: 'ws' }],
    ['wss://[::1]/skein', { host: '::1', port: 443, tls: true, urlPath: '/skein', scheme: 'ws' }],
    ['ws://[::1]', { host: '::1', port: 80, scheme: 'ws' }],
    ['wss://[::1]:8443/skein', { host: '::1', port: 8443, tls: true, urlPath: '/skein', scheme: 'ws' }],
    // A scheme in any case (RFC 3986 §3.1; a browser's URL lowercases it).
    ['WSS://api.example.com/skein', { host: 'api.example.com', port: 443, tls: true, urlPath: '/skein', scheme: 'ws' }],
    ['Ws://h:1', { host: 'h', port: 1, scheme: 'ws' }],
    ['TCP://h:1', { host: 'h', port: 1, scheme: 'tcp' }],
    ['TLS://h:1', { host: 'h', port: 1, tls: true }],
    ['UNIX:/tmp/a.sock', { path: '/tmp/a.sock' }],
    ['TLS+UNIX:/tmp/a.sock', { path: '/tmp/a.sock', tls: true }],
  ])('reads %s', (s, want) => {
    expect(parseAddress(s)).toEqual(want);
  });

  // No standard port for TCP or TLS: a missing one stays an error. Nor has any address a fragment.
  it.each(['', 'nohost', 'h:99999', 'h:-1', 'unix:', 'tls://nohost', 'tcp://nohost', 'TCP://nohost', '[::1]', 'tls://[::1]', 'tls://h:1/path', 'tls://h:1?x', 'h:1?x', 'https://h:1', 'ws://h#f', 'ws://h?x#f', 'ws://h:/p', 'wss://h:99999/p', 'ws:///p'])('rejects %j with InvalidArgument', (s) => {
    try {
      parseAddress(s);
      expect.unreachable();
    } catch (e) {
      expect(RpcError.is(e, ErrorCode.InvalidArgument)).toBe(true);
    }
  });

  // Every form it reads is named when it refuses one (it named four of nine).
  it('names every form it reads when it refuses an address', () => {
    expect(() => parseAddress('nohost')).toThrow('(want host:port, [::1]:port, tcp://host:port, tls://host:port, ws://host[:port][/path], wss://host[:port][/path], unix:/path, tls+unix:/path or /path)');
  });

  it.each(['nohost', 'tcp://nohost', 'tls://nohost'])('refuses %s, with no standard port, as not an address', (s) => {
    expect(() => parseAddress(s)).toThrow(`not an address: ${JSON.stringify(s)} (want host:port, [::1]:port, tcp://host:port, tls://host:port, ws://`);
  });

  it('refuses a scheme that names no transport in an Address object', () => {
    expect(() => parseAddress({ host: 'h', port: 1, scheme: 'http' as never })).toThrow(/scheme "http" is not 'tcp' or 'ws'/);
  });

  it('formats back', () => {
    expect(formatAddress({ host: '::1', port: 1 })).toBe('[::1]:1');
    expect(formatAddress({ path: '/x' })).toBe('unix:/x');
    for (const s of ['tls://h:1', 'tls+unix:/x', 'wss://[::1]:2/p', 'ws://h:3/p', 'ws://h:4', 'wss://h:5']) expect(formatAddress(parseAddress(s))).toBe(s);
    // TCP's canonical form drops tcp:// (one server however spelled, in a pool); a ws:// address
    // keeps its scheme, which once went (`ws://h:4` became `h:4`, `wss://h:5` read as `tls://h:5`).
    expect(formatAddress(parseAddress('tcp://h:6'))).toBe('h:6');
  });

  // A default port is written out: one text per server (a pool's key, a discovery entry), the
  // port dialled named in errors, and read by a parser that predates the default.
  it.each([
    ['wss://h/skein', 'wss://h:443/skein'],
    ['wss://h', 'wss://h:443'],
    ['ws://h/skein', 'ws://h:80/skein'],
    ['WSS://[::1]/skein', 'wss://[::1]:443/skein'],
    ['ws://[::1]', 'ws://[::1]:80'],
    ['wss://h?q', 'wss://h:443/?q'],
  ])('formats %s with its port, %s, which reads back to the same address', (given, shown) => {
    expect(formatAddress(parseAddress(given))).toBe(shown);
    expect(parseAddress(shown)).toEqual(parseAddress(given));
  });
});

// A user and password were read as part of the host (`wss://user@h/skein` dialled host `user@h`)
// or refused as "not an address" with the password echoed. Nothing would send them (a login would
// fail as if the server refused it): refused, and never repeated in the message.
describe('an address with a user and password', () => {
  it.each([
    ['wss://user:s3cret@h:443/skein', 'wss://h:443/skein'],
    ['wss://user:s3cret@h/skein', 'wss://h/skein'],
    ['WS://user:s3cret@[::1]:1', 'WS://[::1]:1'],
    ['user:s3cret@h:1', 'h:1'],
    ['tcp://user:s3cret@h:1', 'tcp://h:1'],
    ['tls://user:s3cret@h:1', 'tls://h:1'],
    // A `/` or a `#` in the password, not percent-encoded, ends no login here.
    ['ws://user:s3/cret@h/skein', 'ws://h/skein'],
    ['ws://user:s3#cret@h/skein', 'ws://h/skein'],
  ])('refuses %s with InvalidArgument, shown as %s', (given, shown) => {
    let err: unknown;
    try {
      parseAddress(given);
    } catch (e) {
      err = e;
    }
    expect(RpcError.is(err, ErrorCode.InvalidArgument)).toBe(true);
    expect((err as RpcError).message).toBe(`${JSON.stringify(shown)}: a user and password in the address are not sent; remove them (want ${ADDRESS_FORMS})`);
  });

  it('refuses a user alone (`wss://user@h/skein`), once read as host `user@h`', () => {
    expect(() => parseAddress('wss://user@h/skein')).toThrow('"wss://h/skein": a user and password in the address are not sent');
    expect(() => parseAddress('user@h:1')).toThrow('"h:1": a user and password in the address are not sent');
  });

  // A `?` in the password is a login cut short as a `/` or a `#` is (it was "not an address").
  it('refuses a password a `?` cut short as a login too', () => {
    expect(() => parseAddress('ws://user:s3?cret@h/skein')).toThrow(`"ws://h/skein": a user and password in the address are not sent; remove them (want ${ADDRESS_FORMS})`);
  });

  // tcp://, tls:// and `host:port` have no query: a `?` then an `@` there is a password's `?`,
  // refused as a login (it was "not an address" showing the user and the password up to its `?`).
  it.each([
    ['tcp://user:1?s3cret@h:1', 'tcp://h:1'],
    ['tls://user:1234?s3cret@db:5432', 'tls://db:5432'],
    ['user:1?s3cret@h:1', 'h:1'],
    ['TCP://user:1?s3@cr?et@h:1', 'TCP://h:1'],
  ])('refuses %s, a password a `?` cut short in an address with no query, as a login shown as %s', (given, shown) => {
    let err: unknown;
    try {
      parseAddress(given);
    } catch (e) {
      err = e;
    }
    expect(RpcError.is(err, ErrorCode.InvalidArgument)).toBe(true);
    expect((err as RpcError).message).toBe(`${JSON.stringify(shown)}: a user and password in the address are not sent; remove them (want ${ADDRESS_FORMS})`);
  });

  // Not a login: a socket path's `@` and a query's are their own.
  it.each([
    ['unix:/run/a@b.sock', { path: '/run/a@b.sock' }],
    ['tls+unix:/run/a@b.sock', { path: '/run/a@b.sock', tls: true }],
    ['/run/a@b.sock', { path: '/run/a@b.sock' }],
    ['ws://h:1/skein?mail=a@b', { host: 'h', port: 1, urlPath: '/skein?mail=a@b', scheme: 'ws' }],
  ])('reads %s', (s, want) => {
    expect(parseAddress(s)).toEqual(want);
  });
});

describe('addressFor', () => {
  const refused = (kind: 'tcp' | 'ws', address: Parameters<typeof addressFor>[1]): RpcError => {
    try {
      addressFor(kind, address, kind === 'tcp' ? 'tcpTransport' : 'wsTransport');
    } catch (e) {
      expect(RpcError.is(e, ErrorCode.InvalidArgument)).toBe(true);
      return e as RpcError;
    }
    return expect.unreachable(`${kind} took ${JSON.stringify(address)}`);
  };

  it.each(['ws://127.0.0.1:4000', 'wss://127.0.0.1:4000', 'ws://127.0.0.1:4000/skein', 'wss://h:1/p', 'wss://h/p', 'WS://h'])('refuses %s for TCP, naming the WebSocket transport', (a) => {
    expect(refused('tcp', a).message).toMatch(/^tcpTransport cannot use wss?:\/\/.*: ws:\/\/ and wss:\/\/ addresses are for wsTransport or uwsTransport; tcpTransport takes host:port, tcp:\/\/host:port, tls:\/\/host:port, unix:\/path, tls\+unix:\/path or \/path$/);
  });

  it('refuses a WebSocket Address object (a URL path) for TCP', () => {
    expect(refused('tcp', { host: 'h', port: 1, urlPath: '/skein' }).message).toMatch(/^tcpTransport cannot use ws:\/\/h:1\/skein:/);
  });

  // A page's token goes in a ws URL's query: the refusal, which may be logged, names the address without it.
  it.each<[Parameters<typeof addressFor>[1], string]>([
    ['ws://127.0.0.1:1/skein?token=SECRET', 'ws://127.0.0.1:1/skein?…'],
    ['wss://h?token=SECRET', 'wss://h:443/?…'],
    [{ host: 'h', port: 1, urlPath: '/skein?token=SECRET' }, 'ws://h:1/skein?…'],
  ])("refuses %j for TCP without its query, shown as %s", (a, shown) => {
    expect(refused('tcp', a).message).toMatch(new RegExp(`^tcpTransport cannot use ${shown.replace(/[.?/]/g, '\\$&')}: `));
    expect(refused('tcp', a).message).not.toContain('SECRET');
  });

  it('refuses tcp:// for WebSocket, naming the TCP transport and every form WebSocket takes', () => {
    expect(refused('ws', 'tcp://127.0.0.1:4000').message).toBe(
      'wsTransport cannot use tcp://127.0.0.1:4000: a tcp:// address is for tcpTransport; wsTransport takes host:port, tls://host:port, ws://host[:port][/path], wss://host[:port][/path], unix:/path, tls+unix:/path or /path',
    );
  });

  // tls:// asks for TLS and names no transport: a wss server's canonical address was
  // `tls://host:port` (discovery entries written then hold it), and 925ebd8 refused it for WebSocket.
  it.each(['tls://h:1', 'tls://[::1]:2', 'tls+unix:/tmp/s'])('takes %s for WebSocket as TLS (wss)', (a) => {
    expect(addressFor('ws', a, 'wsTransport')).toEqual({ ...parseAddress(a), tls: true });
    expect(parseAddress(a)).not.toHaveProperty('scheme');
  });

  it.each(['h:1', '[::1]:2', 'unix:/tmp/s', '/tmp/s', 'tls+unix:/tmp/s'])('takes %s for both', (a) => {
    expect(addressFor('tcp', a, 'tcpTransport')).toEqual(parseAddress(a));
    expect(addressFor('ws', a, 'wsTransport')).toEqual(parseAddress(a));
  });

  it('takes each its own forms, and Address objects that name no scheme', () => {
    for (const a of ['tcp://h:1', 'tls://h:1', { host: 'h', port: 1, tls: true }]) expect(addressFor('tcp', a, 'tcpTransport')).toEqual(parseAddress(a));
    for (const a of ['ws://h:1', 'wss://h:1/p', { host: 'h', port: 1, tls: true }, { host: 'h', port: 1, urlPath: '/p' }]) expect(addressFor('ws', a, 'wsTransport')).toEqual(parseAddress(a));
  });
});

// A ws:// host the URL parser refuses (`bad host`, `h%zz`) was read, and the ws client then threw
// a raw SyntaxError quoting the whole URL, token and all: refused here, the query left out.
describe('a ws:// address whose host no URL has', () => {
  it.each(['ws://bad host:1/skein', 'ws://h%zz:1/skein', 'wss://h\tx/skein', 'ws://h<x>:1', 'ws://h|x:1', 'ws://h^x:1', 'ws://h\\x:1', 'ws://[bad host]:1/skein', 'ws://[::1%25eth0]:1'])('refuses %j as not an address', (s) => {
    expect(() => parseAddress(s)).toThrow('not an address: ');
    expect(RpcError.is(catching(() => parseAddress(s)), ErrorCode.InvalidArgument)).toBe(true);
  });

  it('leaves the query, and a token in it, out of the message', () => {
    expect(() => parseAddress('ws://bad host:1/skein?token=s3cret')).toThrow(`not an address: "ws://bad host:1/skein?…" (want ${ADDRESS_FORMS})`);
  });

  it.each([
    ['ws://münchen.example:1/skein', 'münchen.example'],
    ['wss://db-1_a.internal/skein', 'db-1_a.internal'],
    ['ws://[::ffff:127.0.0.1]:1', '::ffff:127.0.0.1'],
  ])('reads %s, whose host a URL has', (s, host) => {
    expect((parseAddress(s) as { host: string }).host).toBe(host);
  });
});

describe('shownAddress', () => {
  it("is formatAddress's text with a URL's query left out", () => {
    expect(shownAddress(parseAddress('ws://h:1/skein?token=s3cret'))).toBe('ws://h:1/skein?…');
    expect(shownAddress(parseAddress('wss://h/skein?token=s3cret'))).toBe('wss://h:443/skein?…');
    expect(shownAddress(parseAddress('ws://h:1/skein'))).toBe('ws://h:1/skein');
    expect(shownAddress(parseAddress('tls://h:1'))).toBe('tls://h:1');
    expect(shownAddress(parseAddress('wss://h?token=s3cret'))).toBe('wss://h:443/?…');
  });

  it("keeps a socket path's `?`, its own", () => {
    expect(shownAddress({ path: '/run/a?b.sock' })).toBe('unix:/run/a?b.sock');
  });
});

function catching(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
}
