export { bunRuntime as runtime } from '@skein/runtime-bun';
