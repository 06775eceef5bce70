// `pqfile/bundler`: the wasm-bindgen `bundler` target, for bundlers with
// WebAssembly ESM integration (webpack 5 `experiments.asyncWebAssembly`,
// vite-plugin-wasm). Instantiated by the bundler at import.
import * as wasm from '../dist/bundler/pqfile_wasm.js';
import { backend } from './backend.js';

backend.wasm = wasm;
backend.init = async () => {};

export * from './common.js';
// The chunk sizes, from the core (a plain object in the bindings, no init needed).
export const { ChunkSize: CHUNK_SIZE, ChunkCiphertextSize: CHUNK_CT_SIZE } = wasm.StreamConstant;
export {
  ChunkKey,
  Decryptor,
  Encapsulation,
  Encryptor,
  FileKey,
  Header,
  MlKem768PublicKey,
  MlKem768SecretKey,
  Recipients,
  StanzaInfo,
  errorCodeOf,
  memoryBytes,
  openTransportStanza,
  unwrapStanza,
  wrapFileKey,
} from '../dist/bundler/pqfile_wasm.js';
