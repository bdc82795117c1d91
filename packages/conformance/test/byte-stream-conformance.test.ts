// The published kit on a third party's transport over a byte stream that is no Runtime's
// (HTTP/2 streams), framed by @skein/transport-tcp's authors' export alone: what TCP's framing
// passes, it passes over any byte stream.
import { transportConformance } from '../src/index.js';
import { h2Transport } from './h2-transport.js';

transportConformance({ transport: h2Transport(), listenAddress: '127.0.0.1:0', scheme: 'tcp' });
