import { fileURLToPath } from 'node:url';
import grpc from '@grpc/grpc-js';
import protoLoader from '@grpc/proto-loader';

const protoPath = fileURLToPath(new URL('../calculator.proto', import.meta.url));
const definition = protoLoader.loadSync(protoPath, { keepCase: true });

/** The grpc-js service constructor for bench.Calculator, loaded from calculator.proto. */
export const loadCalculator = () => grpc.loadPackageDefinition(definition).bench.Calculator;

/** Bytes of an AddRequest on the wire, by the serializer grpc-js itself uses. */
export const addRequestBytes = (arg) => definition['bench.Calculator'].Add.requestSerialize(arg).length;
