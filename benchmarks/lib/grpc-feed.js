import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const protoPath = fileURLToPath(new URL('../feed.proto', import.meta.url));

/** The grpc-js service constructor for bench.Feed, loaded from feed.proto. */
export const loadFeed = () => grpc.loadPackageDefinition(protoLoader.loadSync(protoPath, { keepCase: true })).bench.Feed;
