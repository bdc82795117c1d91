/**
 * @skein/test-utils (private): what the packages' tests share, written once. Everything here
 * drives real parts: free loopback ports and socket paths, child processes and the bun/deno
 * binaries, raw sockets for hostile peers, a real etcd, a manual clock for tick-driven code
 * (never a stand-in for a socket), the conformance suite that every runtime runs, and random
 * values and strict comparisons for testing a codec's fast path against its library. The codec
 * conformance suite is public, in @skein/conformance (`codecConformance`).
 * Node-only helpers that a server child process can load without vitest live at the
 * `./resources` subpath.
 */

// ── Places, waits and processes
export { freePort, freePorts, freeStablePort, tmpSocketPath, portOf } from './ports.js';
export { waitFor, sleep, within, deferred, settleAll } from './wait.js';
export { cleanups, closeAll, testCleanups } from './cleanups.js';
export { scoped, whenTestFinished } from './test-scope.js';
export type { WaitOptions, Deferred } from './wait.js';
export { startProcess, processRunning, processStopped } from './process.js';
export type { Proc } from './process.js';
export { handleCounts, leakedHandles, fullGc, heapAfterGc, arrayBuffersSettled } from './resources.js';
export { longLivedSignal, abortListeners, toldListeners } from './signals.js';
export { heldHandler } from './held-handler.js';
export type { HeldHandler } from './held-handler.js';
export { stackTraceLimitInTests, rpcFailures, expectStackless } from './stackless.js';

// ── Conformance suites, hostile input, and a codec's fast path against its library
export { seededRandom, randomBuffers, mutatedBuffers, flipBits } from './fuzz-bytes.js';
export { randomPlain, pick, below } from './random-values.js';
export type { Random, RandomValueOptions } from './random-values.js';
export { sameValue, sameOutcome, expectSameBytes, outcome, hex, show } from './same-outcome.js';
export type { Outcome, BytesCompared } from './same-outcome.js';
export { fromHex, joinBytes, joinedBytes, u32be } from './byte-literals.js';
export { expectMessagesKeptAcrossChunks } from './encoder-chunks.js';
export { libraryCodec } from './library-codec.js';
export type { CodecLibrary } from './library-codec.js';
export { claimingRequest, claimingResponse } from './claimed-headers.js';
export type { ClaimedRequest } from './claimed-headers.js';
export { rawConnect } from './raw-socket.js';
export { olderSkeinClient, olderSkeinServerOffer } from './older-skein-client.js';
export { sendQueueSettled } from './send-queue.js';
export { tcpBufferCeiling } from './socket-buffers.js';
export type { RawSocket, PeerClose } from './raw-socket.js';
export { startRazorServer, connectRazorClient } from './razor-v1.js';
export type { RazorServer, RazorServerOptions, RazorClient, RazorHandler, RazorAnswer, RazorReply, RazorRequest } from './razor-v1.js';
export { closeRecorder } from './close-recorder.js';
export { specHandling, detachedBodyLength, copiedSpec } from './spec-handling.js';
export type { CloseRecorder } from './close-recorder.js';

// ── Other runtimes and real servers (bun, deno, etcd)
export { repoTool, toolMissing } from './repo-tool.js';
export { describeNeeding, itNeeding } from './needs-tool.js';
export { launch, reap, type LaunchOptions, type RuntimeName } from './launch.js';
export { runtimeConformance, RUNTIME_SCENARIO } from './runtime-conformance.js';
export type { RuntimeHarness } from './runtime-conformance.js';
export { startEtcd, etcdAvailable, etcdFollower } from './etcd.js';
export type { EtcdCluster, EtcdMember, StartEtcdOptions } from './etcd.js';
export { startTcpRelay } from './tcp-relay.js';
export { muteServer } from './mute-server.js';
export type { MuteServer, MuteServerOptions } from './mute-server.js';
export type { TcpRelay, TcpRelayOptions } from './tcp-relay.js';
export { startTcpRelayProcess } from './tcp-relay-process.js';
export type { TcpRelayProcess } from './tcp-relay-process.js';

// ── Watching what code under test does
export { memoryLogger } from './memory-logger.js';
export type { LogLine } from './memory-logger.js';
export { ManualClock } from './manual-clock.js';
export { encryptedKeyOf, makeTestCerts, signClientCert, signClientCertDated, signServerCertDated, signServerCertFor, suiteCerts, testTls } from './certs.js';
export { damagedPems, damagedInside, caBundle } from './damaged-pem.js';
export type { DamagedPem } from './damaged-pem.js';
export { tlsRuntimeConformance } from './tls-conformance.js';
export { tlsClientVersionConformance } from './tls-client-version.js';
export { tlsReloadKeepsConformance } from './tls-reload-keeps.js';
export { tlsClientReloadConformance } from './tls-client-reload.js';
export type { TlsClientReloadHarness } from './tls-client-reload.js';
export { servedCommonName, tlsReloadDuringListenConformance } from './tls-reload-during-listen.js';
export type { TlsReloadDuringListenHarness } from './tls-reload-during-listen.js';
export type { TlsHarness } from './tls-conformance.js';
export type { TestCerts, CertPair, TestTls } from './certs.js';
export { startNetLab, netnsUnavailable } from './netns.js';
export type { NetHost, NetLab } from './netns.js';
