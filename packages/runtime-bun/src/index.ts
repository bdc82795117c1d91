export { bunRuntime } from './runtime.js';
