import { nodeRuntime } from '@skein/runtime-node';
import { tlsClientReloadConformance } from '@skein/test-utils';
import { tcpTransport } from '../src/index.js';
import { encode, spec, text } from './spec.js';

// reloadTls on a transport that dials, over real TLS sockets (Node's runtime): the client-only case included.
tlsClientReloadConformance({ name: 'tcp', transport: (tls) => tcpTransport(nodeRuntime, { tls }), spec, frame: (body) => encode(text(body)) });
