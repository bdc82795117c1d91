import { transportConformance } from '@skein/conformance';
import { messagePortTransport } from '../src/index.js';

// The published suite, run as a third-party transport would run it.
transportConformance({ transport: messagePortTransport(), listenAddress: 'local:0' });
