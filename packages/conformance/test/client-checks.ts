import { parseAddress, type Transport } from '@skein/core';
import { badAddressProblems } from '../src/bad-addresses.js';
import { connectTimeoutProblems } from '../src/connect-timeout.js';

/** Generous: a malformed address is refused before anything is dialled. */
const BOUND_MS = 20_000;

/**
 * The kit's checks of a client transport alone, run by every client cell of the matrix after its
 * scenarios (the Node client in the test process, Bun's and Deno's in their client.mjs child):
 * each needs no server of the row's, only the shape of its address (TCP or Unix, TLS, a URL
 * path), and returns its problems in words ([] when none). A tenth of a second each.
 */
export const CLIENT_CHECKS = {
  badAddresses: {
    title: "refuses malformed addresses (an empty host, ports out of range, an unknown scheme, another transport's) with InvalidArgument",
    run: (transport: Transport, address: string): Promise<string[]> => badAddressProblems(transport, parseAddress(address), BOUND_MS),
  },
  connectTimeout: {
    title: 'gives up a handshake nobody answers at its timeoutMs with Unreachable, and closes its socket',
    run: (transport: Transport, address: string): Promise<string[]> => connectTimeoutProblems(transport, parseAddress(address)),
  },
} as const;

export type ClientCheckName = keyof typeof CLIENT_CHECKS;
export const CLIENT_CHECK_NAMES = Object.keys(CLIENT_CHECKS) as ClientCheckName[];
