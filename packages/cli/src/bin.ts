#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { main } from './main.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
// The exit code is set, not forced: stdout is flushed before the process ends.
process.exitCode = await main(process.argv.slice(2), process.stdout, process.stderr, version);
