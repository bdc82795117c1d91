import { formatAddress, parseAddress, shownAddress, shownUrl, type Address } from '@skein/core';

/**
 * A pool server's `address` label (attribute): its key as core's `shownAddress` shows it, a
 * WebSocket URL's query (where a page's token goes) left out, since metrics are scraped and
 * kept by third parties. A key with a query gets `#` and a digest of that query in its place
 * (`ws://h:1/skein?…#3f9c2e1a`), so that two servers differing only in their query keep a series
 * each. The digest is keyed by a random number drawn once per process: stable for the life of
 * the process (a member's series is its own from scrape to scrape), never the same hash of a
 * token across processes, so that no one holding a label can test guesses of the token against
 * it (a keyed mix, not a cryptographic MAC: it keeps tokens out, not a determined analyst who
 * already holds one). A restart starts such a server's series anew.
 */
export function addressLabel(key: string): string {
  // Keys are `formatAddress` text: one with no `?` is shown as it is.
  if (!key.includes('?')) return key;
  const { text, shown } = readAs(key);
  if (shown === text) return key; // a socket path's own `?`
  // `shownUrl` cuts at the query's `?`, keeping it and adding `…`: what it cut is after that `?`.
  return `${shown}#${digest(text.slice(shown.length - 1))}`;
}

/** `key` as `formatAddress` writes it, and as `shownAddress` shows it. */
function readAs(key: string): { text: string; shown: string } {
  let a: Address;
  try {
    a = parseAddress(key);
  } catch {
    // Text that is no address (a ConnPool's is one; a stats source of your own may not be): cut at its query all the same.
    return { text: key, shown: shownUrl(key) };
  }
  return { text: formatAddress(a), shown: shownAddress(a) };
}

/** This process's key for `digest`: random, never told. */
const SEED = globalThis.crypto.getRandomValues(new Uint32Array(2));

/** 32 bits of a keyed mix of `text` (cyrb53's rounds, each half seeded): 8 hex digits. */
function digest(text: string): string {
  let h1 = 0xdeadbeef ^ SEED[0]!;
  let h2 = 0x41c6ce57 ^ SEED[1]!;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return ((h2 ^ h1) >>> 0).toString(16).padStart(8, '0');
}
