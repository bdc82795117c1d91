// The kit's watching wrappers stand in for the transport under test: what a pool reads of it goes
// through them. reloadTls and tlsGeneration reach the transport, and the count read through the
// wrapper is the transport's own, live (real TLS options, a real reload).
import { runtime } from '@skein/runtime';
import { suiteCerts, testTls } from '@skein/test-utils';
import { tcpTransport } from '@skein/transport-tcp';
import { describe, expect, it } from 'vitest';
import { watchConns } from '../src/conn-watch.js';
import { watchListenerCloses } from '../src/listener-watch.js';

const certs = suiteCerts();
const { clientTls } = testTls(certs);

describe.each([
  ['watchConns', (t: ReturnType<typeof tcpTransport>) => watchConns(t).transport],
  ['watchListenerCloses', (t: ReturnType<typeof tcpTransport>) => watchListenerCloses(t).transport],
])('%s', (_name, watch) => {
  it('forwards reloadTls and tlsGeneration: a reload through the wrapper counts, read through it', async () => {
    const inner = tcpTransport(runtime, { tls: clientTls(certs.client) });
    const watched = watch(inner);
    expect(watched.tlsGeneration!()).toBe(0);
    await watched.reloadTls!({ ca: certs.ca });
    expect(inner.tlsGeneration()).toBe(1);
    expect(watched.tlsGeneration!()).toBe(1);
  });
});
