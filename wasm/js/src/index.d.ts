// Types of the `pqfile` package: the hand-written API below plus the
// wasm-bindgen classes (their doc comments come from the Rust crate).
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
import type { ErrorCode as WasmErrorCode } from '../dist/bundler/pqfile_wasm.js';

/** The `code` of a PqfileError (FORMAT.md §9 and the API's own codes). */
export type ErrorCodeValue = WasmErrorCode;
export declare const ErrorCode: Readonly<{
  TruncatedHeader: 'truncated_header';
  BadMagic: 'bad_magic';
  UnsupportedVersion: 'unsupported_version';
  ReservedFlags: 'reserved_flags';
  BadStanzaCount: 'bad_stanza_count';
  BadDocumentId: 'bad_document_id';
  BadStanzaBody: 'bad_stanza_body';
  StanzaTooLarge: 'stanza_too_large';
  BadKeyId: 'bad_key_id';
  DuplicateStanza: 'duplicate_stanza';
  UnsupportedKem: 'unsupported_kem';
  NoMatchingStanza: 'no_matching_stanza';
  DecryptionFailed: 'decryption_failed';
  BadRecipientCount: 'bad_recipient_count';
  DuplicateRecipient: 'duplicate_recipient';
  MessageTooLong: 'message_too_long';
  InvalidPublicKey: 'invalid_public_key';
  InvalidSecretKey: 'invalid_secret_key';
  InvalidCiphertext: 'invalid_ciphertext';
  InvalidState: 'invalid_state';
}>;

/** An error of the file format or of its use: branch on `code`. */
export declare class PqfileError extends Error {
  readonly name: 'PqfileError';
  readonly code: ErrorCodeValue;
  /** With `truncated_header`: how many more bytes the header needs at least. */
  readonly needed?: number;
}

/** An error answered by the key server, or `network_error` (status 0). */
export declare class KeyServerError extends Error {
  readonly name: 'KeyServerError';
  readonly status: number;
  readonly code: string;
}

/** Loads the wasm module (browsers: fetches the .wasm next to the module, or `input`). Idempotent; the high-level API calls it itself. */
export declare function init(input?: string | URL | Request | Response | BufferSource | WebAssembly.Module): Promise<unknown>;
/** Whether chunks are sealed with WebCrypto here (crypto.subtle in a secure context). */
export declare function hasWebCrypto(): boolean;
/** Whether ML-KEM-768 encapsulation runs with WebCrypto here (probed once; Chromium 156 yes, Node 20 no). */
export declare function hasWebCryptoKem(): Promise<boolean>;
/**
 * Encapsulates a fresh shared secret to a 1184-byte ML-KEM-768 public key:
 * WebCrypto where available (`'auto'`, default), required (`true`) or wasm
 * (`false`). The secret stays in the returned wasm object: pass it to
 * `Recipients.addEncapsulated` or `free()` it. Throws `invalid_public_key`.
 */
export declare function encapsulate(publicKey: Uint8Array, options?: { webCrypto?: boolean | 'auto' }): Promise<import('../dist/bundler/pqfile_wasm.js').Encapsulation>;
/** Nonce of chunk `counter`: base nonce XOR the big-endian counter (FORMAT.md §6). */
export declare function chunkNonce(baseNonce: Uint8Array, counter: number): Uint8Array;
export declare const CHUNK_SIZE: 16384;
export declare const CHUNK_CT_SIZE: 16400;

export interface StreamOptions {
  /** `true`: always WebCrypto AES-GCM (throws where missing); `false`: AES-GCM and ML-KEM in wasm; default: WebCrypto when available. With `true` or the default, ML-KEM-768 encapsulation uses WebCrypto where the platform has it and wasm elsewhere. */
  webCrypto?: boolean | 'auto';
  /** WebCrypto AES-GCM calls kept in flight (default 64); memory grows with it by 32 KiB each. */
  concurrency?: number;
  /** Called after each input block with the total bytes consumed so far. */
  onProgress?: (bytes: number) => void;
}

/** A new key-server document and the key to encrypt it to. */
export interface KeyServerDocument {
  documentId: string;
  keyId: number;
  algorithm: 'ML-KEM-768';
  publicKey: Uint8Array;
}

/** What Encrypter/Decrypter need from a key server (KeyServerClient or a stand-in). */
export interface KeyService {
  createDocument(): Promise<KeyServerDocument>;
  /** Sends a file stanza and an ephemeral public key; returns the transport stanza (FORMAT.md §7). */
  unwrap(documentId: string, stanza: Uint8Array, ephemeralPublicKey: Uint8Array): Promise<Uint8Array>;
}

/** HTTP client of the key server (`Authorization: Bearer <token>`). */
export declare class KeyServerClient implements KeyService {
  constructor(baseUrl: string, token: string, options?: { fetch?: typeof fetch });
  createDocument(): Promise<KeyServerDocument>;
  unwrap(documentId: string, stanza: Uint8Array, ephemeralPublicKey: Uint8Array): Promise<Uint8Array>;
}

export declare class Encrypter {
  constructor(options?: StreamOptions);
  /** The document id of the file being (or last) encrypted. */
  readonly documentId: string | undefined;
  /** Adds a recipient: key-server key id and 1184-byte ML-KEM-768 public key. */
  addRecipient(keyId: number, publicKey: Uint8Array): this;
  /** Uses this document id (32 hex digits) instead of a random one. */
  setDocumentId(documentId: string): this;
  /** Creates a key-server document per file and encrypts to its key. */
  useKeyServer(client: KeyService): this;
  encrypt(input: Uint8Array): Promise<Uint8Array>;
  encrypt(input: ReadableStream<Uint8Array>): Promise<ReadableStream<Uint8Array>>;
  /** For `file.stream().pipeThrough(encrypter.encryptStream())`. */
  encryptStream(): TransformStream<Uint8Array, Uint8Array>;
}

export declare class Decrypter {
  constructor(options?: StreamOptions);
  /** The document id of the file being (or last) decrypted. */
  readonly documentId: string | undefined;
  /** Adds a local identity: key id and 64-byte ML-KEM-768 seed. */
  addIdentity(keyId: number, seed: Uint8Array): this;
  /** Unwraps file keys through the key server (FORMAT.md §7). */
  useKeyServer(client: KeyService): this;
  decrypt(input: Uint8Array): Promise<Uint8Array>;
  /** The returned stream errors if the file is truncated or tampered with; only a stream that closes cleanly is complete. */
  decrypt(input: ReadableStream<Uint8Array>): Promise<ReadableStream<Uint8Array>>;
  decryptStream(): TransformStream<Uint8Array, Uint8Array>;
}

export declare function toBase64(bytes: Uint8Array): string;
export declare function fromBase64(text: string): Uint8Array;
