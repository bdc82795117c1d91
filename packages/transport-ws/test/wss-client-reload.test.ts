import { tlsClientReloadConformance } from '@skein/test-utils';
import { wsTransport } from '../src/index.js';
import { frame, spec } from './helpers.js';

// reloadTls on a transport that dials, over real wss:// (the ws server over https, the ws client): the client-only case included.
tlsClientReloadConformance({ name: 'ws', transport: (tls) => wsTransport({ tls }), spec, frame });
