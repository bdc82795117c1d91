export { denoRuntime as runtime } from '@skein/runtime-deno';
