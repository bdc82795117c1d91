import { tlsReloadDuringListenConformance } from '@skein/test-utils';
import { wsTransport } from '../src/index.js';
import { spec } from './helpers.js';

// reloadTls and a listen under way at once, over real wss:// (the ws server over https).
tlsReloadDuringListenConformance({ name: 'ws', transport: (tls) => wsTransport({ tls }), spec });
