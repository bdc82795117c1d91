// The published kit, run as a third party runs it, on Skein's own TCP transport: a transport
// that is right must pass it (its listener takes a turn to close, as most do).
import { runtime } from '@skein/runtime';
import { tcpTransport } from '@skein/transport-tcp';
import { transportConformance } from '../src/index.js';

transportConformance({ transport: tcpTransport(runtime), listenAddress: '127.0.0.1:0', scheme: 'tcp' });
