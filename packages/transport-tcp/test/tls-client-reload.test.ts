import { ErrorCode } from '@skein/core';
import { nodeRuntime } from '@skein/runtime-node';
import { tlsClientReloadConformance } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { tcpTransport } from '../src/index.js';
import { encode, spec, text } from './spec.js';

// reloadTls on a transport that dials, over real TLS sockets (Node's runtime): the client-only case included.
tlsClientReloadConformance({ name: 'tcp', transport: (tls) => tcpTransport(nodeRuntime, { tls }), spec, frame: (body) => encode(text(body)) });

// Outside the suite, whose transports are all made with options: the refusal's words, pinned.
describe('tcp: reloadTls on a transport made without tls options', () => {
  it('is InvalidArgument, saying so', async () => {
    await expect(tcpTransport(nodeRuntime).reloadTls({})).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: 'reloadTls: this transport was made without tls options' });
  });
});
