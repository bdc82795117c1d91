import { ErrorCode } from '@skein/core';
import { tlsClientReloadConformance } from '@skein/test-utils';
import { describe, expect, it } from 'vitest';
import { wsTransport } from '../src/index.js';
import { frame, spec } from './helpers.js';

// reloadTls on a transport that dials, over real wss:// (the ws server over https, the ws client): the client-only case included.
tlsClientReloadConformance({ name: 'ws', transport: (tls) => wsTransport({ tls }), spec, frame });

// Outside the suite, whose transports are all made with options: the refusal's words, pinned.
describe('ws: reloadTls on a transport made without tls options', () => {
  it('is InvalidArgument, saying so', async () => {
    await expect(wsTransport().reloadTls({})).rejects.toMatchObject({ code: ErrorCode.InvalidArgument, message: 'reloadTls: this transport was made without tls options' });
  });
});
