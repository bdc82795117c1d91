// The example transport authors are pointed to refuses what it cannot dial, as every transport
// must (core's `addressFor`): it dialled `ws://` and `tcp://`-for-another addresses as its own
// protocol, and a `tls://` address as cleartext HTTP/2.
import { ErrorCode, RpcError, parseAddress } from '@skein/core';
import { DEFAULT_LIMITS, requestFrameSpec } from '@skein/stream';
import { describe, expect, it } from 'vitest';
import { h2Transport } from './h2-transport.js';

describe('h2Transport', () => {
  it.each(['ws://127.0.0.1:1', 'wss://127.0.0.1:1', 'tls://127.0.0.1:1'])('refuses %s at connect and listen', async (at) => {
    const t = h2Transport();
    const spec = requestFrameSpec(DEFAULT_LIMITS);
    for (const attempt of [() => t.connect(parseAddress(at), spec), () => t.listen(parseAddress(at), spec, () => {})]) {
      const e = await attempt().then(() => 'went ahead', (err: unknown) => err);
      expect(RpcError.is(e, ErrorCode.InvalidArgument), String(e)).toBe(true);
      expect(String(e)).toMatch(/h2Transport cannot use|has no TLS/);
    }
  });
});
