import { fileURLToPath } from 'node:url';

export { launch, reap, type RuntimeName } from '@skein/test-utils';

export const fixture = (name: 'server.mjs' | 'client.mjs'): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
