// Browser entry: the wasm-bindgen `web` target. The high-level API
// initializes on first use; call `await init()` before using the low-level
// classes. Bundlers (Vite, webpack 5, Rollup) emit the .wasm as an asset.
import initWasm, * as wasm from '../dist/web/pqfile_wasm.js';
import { backend } from './backend.js';

backend.wasm = wasm;
backend.init = async (input) => {
  await initWasm(input === undefined ? undefined : { module_or_path: input });
};

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
} from '../dist/web/pqfile_wasm.js';
