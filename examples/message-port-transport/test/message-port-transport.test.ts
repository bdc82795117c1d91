import { transportConformance } from '@skein/conformance';
import { messagePortTransport } from '../src/index.js';

// The published suite, run as a third-party transport would run it. A MessagePort has no
// back-pressure (`congested` is always false), so the slow reader's scenario is left out: it fails.
// No address scheme names it (`scheme: 'none'`): it must refuse both tcp:// and ws://.
transportConformance({ transport: messagePortTransport(), listenAddress: 'local:0', except: ['backpressure'], scheme: 'none' });
