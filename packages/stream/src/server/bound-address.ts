import type { Address } from '@skein/core';

/** A TCP (or WebSocket) address: what a listener asked for `host:port` is bound to. */
export type HostAddress = Extract<Address, { readonly port: number }>;
/** A Unix socket's address: what a listener asked for `unix:/path` is bound to. */
export type PathAddress = Extract<Address, { readonly path: string }>;

/** What `parseAddress` trims before it reads a scheme: text led by it is left to the union. */
type Blank = ' ' | '\t' | '\n' | '\r';

/**
 * The address `RpcServer.listen(transport, address)` resolves with, as far as the type of
 * `address` tells: every transport binds a listener to the kind of address it was asked for (a
 * Unix path stays a path, a host gets its bound port), so a literal `'127.0.0.1:0'` gives a
 * `HostAddress` and `'unix:/tmp/s'` a `PathAddress`, read without narrowing. A `string` (an
 * address from configuration), or text whose kind the type cannot tell, gives the `Address`
 * union, as before. The string patterns are `parseAddress`'s, in its order: the Unix forms first.
 */
export type BoundAddress<A extends string | Address> = A extends Address
  ? A extends { readonly path: string }
    ? PathAddress
    : HostAddress
  : string extends A
    ? Address
    : A extends `${Blank}${string}`
      ? Address
      : A extends `unix:${string}` | `tls+unix:${string}` | `/${string}`
        ? PathAddress
        : A extends `${'tcp' | 'tls' | 'ws' | 'wss'}://${string}` | `[${string}]:${number}` | `${string}:${number}`
          ? HostAddress
          : Address;
