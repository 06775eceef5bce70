// Types of the `pqfile` package: the hand-written API below plus the
// wasm-bindgen classes (their doc comments come from the Rust crate).
// Written by hand, checked against the code: test/types/conformance.ts
// fails tsc (scripts/test.d/30-js.sh) when an entry point exports a name not
// declared here, lacks one declared here, or a value does not fit its type.
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
  BadServerResponse: 'bad_server_response';
  InvalidState: 'invalid_state';
}>;

/** An error of the file format or of its use: branch on `code`. */
export declare class PqfileError extends Error {
  constructor(code: ErrorCodeValue, message: string, options?: ErrorOptions);
  readonly name: 'PqfileError';
  readonly code: ErrorCodeValue;
  /** With `truncated_header`: how many more bytes the header needs at least. */
  readonly needed?: number;
}

/** The `code` of a KeyServerError the client raises itself; every other code is the key server's own. */
export declare const ClientErrorCode: Readonly<{
  /** No answer at all (status 0): refused connection, DNS, TLS, CORS. */
  ServerUnreachable: 'server_unreachable';
  /** An answer without the shape the API documents. */
  BadServerResponse: 'bad_server_response';
  /** A key of another algorithm than ML-KEM-768. */
  UnsupportedAlgorithm: 'unsupported_algorithm';
}>;

/** An error answered by the key server, or `server_unreachable` (status 0). */
export declare class KeyServerError extends Error {
  constructor(status: number, code: string, message: string, options?: ErrorOptions);
  readonly name: 'KeyServerError';
  /** HTTP status; 0 when the server was not reached. */
  readonly status: number;
  /** The server's `error.code` (keyserver/README.md), `http_<status>` without one, or a ClientErrorCode. */
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

/** A key's state in an unwrap answer: `rotation_queued` = being retired (rewrap the copy before it expires). */
export type KeyStatus = 'active' | 'rotation_queued' | (string & {});

/** The state of the key-server key that opened a file's stanza (the unwrap answer's `key_id`, `key_status`, `key_expires_at`). */
export interface KeyState {
  keyId: number;
  status: KeyStatus;
  /** When the key stops unwrapping (RFC 3339, UTC), if set. */
  expiresAt: string | null;
  /** `status === 'rotation_queued'`: the key is being retired and the file should be rewrapped (`rewrapFile`) before `expiresAt`. */
  retiring: boolean;
}

/** An unwrap answer: the transport stanza and the key's state (null from a server that does not send it). */
export interface UnwrapAnswer {
  transportStanza: Uint8Array;
  keyState: KeyState | null;
}

/** A rewrap answer: the new header (same length, the old key's stanza replaced, MAC recomputed). */
export interface RewrapAnswer {
  header: Uint8Array;
  /** The key the document now depends on. */
  keyId: number;
  /** The key whose stanza was replaced. */
  replacedKeyId: number;
}

/** What Encrypter/Decrypter need from a key server (KeyServerClient or a stand-in). */
export interface KeyService {
  createDocument(): Promise<KeyServerDocument>;
  /** Sends a file stanza and an ephemeral public key; returns the transport stanza (FORMAT.md §7). */
  unwrap(documentId: string, stanza: Uint8Array, ephemeralPublicKey: Uint8Array): Promise<Uint8Array>;
  /** `unwrap` with the key's state; when present, Decrypter uses it and sets `keyState`. */
  unwrapWithKeyState?(documentId: string, stanza: Uint8Array, ephemeralPublicKey: Uint8Array): Promise<UnwrapAnswer>;
}

/** What rewrapFile needs from a key server (KeyServerClient or a stand-in). */
export interface RewrapService {
  rewrap(documentId: string, header: Uint8Array): Promise<RewrapAnswer>;
}

/** A file moved to a current key by rewrapFile. */
export interface RewrappedFile<T> {
  /** The new file: the new header, then the old file's bytes after its header. */
  file: T;
  documentId: string;
  /** The key the file now depends on. */
  keyId: number;
  /** The key whose stanza was replaced. */
  replacedKeyId: number;
  /** The new header. */
  header: Uint8Array;
}

/** One of the caller's documents, or one shared with them (`GET /v1/documents`). */
export interface DocumentSummary {
  documentId: string;
  /** The key the document was registered with. */
  keyId: number;
  /** RFC 3339, UTC. */
  createdAt: string;
  /** The owner's user name. */
  owner: string;
  /** The owner granted the caller access: not the caller's own document. */
  shared: boolean;
  /** A ciphertext is stored on the server. */
  hasContent: boolean;
}

/** One audit entry of a document (`GET /v1/documents/{id}/access`). */
export interface AccessEntry {
  /** `encrypt` or `decrypt`. */
  accessType: string | null;
  /** RFC 3339, UTC. */
  timestamp: string | null;
  /** The user's name (or id, if the user no longer exists). */
  user: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  /** `allowed` or `refused`. */
  outcome: string;
  /** The refusal's error code. */
  reason: string | null;
}

/** A user the owner let decrypt a document. */
export interface Grant {
  user: string;
  /** RFC 3339, UTC. */
  grantedAt: string;
}

/**
 * HTTP client of the key server (`Authorization: Bearer <token>`). Every
 * call rejects with a KeyServerError: the server's code and status,
 * `server_unreachable` (status 0) or `bad_server_response`.
 */
export declare class KeyServerClient implements KeyService, RewrapService {
  constructor(baseUrl: string, token: string, options?: { fetch?: typeof fetch });
  /** `POST /v1/documents`: a new document and the key to encrypt it to. */
  createDocument(): Promise<KeyServerDocument>;
  /** `POST /v1/documents/{id}/unwrap` (FORMAT.md §7): the transport stanza. */
  unwrap(documentId: string, stanza: Uint8Array, ephemeralPublicKey: Uint8Array): Promise<Uint8Array>;
  /** `POST /v1/documents/{id}/unwrap`: the transport stanza and the state of the key that opened the stanza. */
  unwrapWithKeyState(documentId: string, stanza: Uint8Array, ephemeralPublicKey: Uint8Array): Promise<UnwrapAnswer>;
  /** `POST /v1/documents/{id}/rewrap` with the file's whole header (MAC included): the new header (FORMAT.md §8). */
  rewrap(documentId: string, header: Uint8Array): Promise<RewrapAnswer>;
  /** `GET /v1/me`: whom this client's token belongs to. */
  me(): Promise<{ id: number; name: string; role: string }>;
  /** `GET /v1/documents`: the caller's documents and those shared with them, newest first. */
  listDocuments(): Promise<DocumentSummary[]>;
  /** `GET /v1/documents/{id}/access`: the audit log, newest first (owner or admin). */
  accessHistory(documentId: string): Promise<AccessEntry[]>;
  /** `GET /v1/documents/{id}/grants`: who else may decrypt, oldest grant first (owner or admin). */
  listGrants(documentId: string): Promise<Grant[]>;
  /** `POST /v1/documents/{id}/grants`: lets `user` decrypt the document (owner or admin; idempotent). */
  grantAccess(documentId: string, user: string): Promise<Grant>;
  /** `DELETE /v1/documents/{id}/grants/{user}`: takes `user`'s access back. */
  revokeAccess(documentId: string, user: string): Promise<void>;
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
  /**
   * The state of the key-server key that opened the file being (or last)
   * decrypted, set before the first plaintext byte; undefined when a local
   * identity opened it or the key service does not tell (no
   * `unwrapWithKeyState`, or a server from before key expiry). `retiring`:
   * rewrap the file (`rewrapFile`) before `expiresAt`.
   */
  readonly keyState: KeyState | undefined;
  /** Adds a local identity: key id and 64-byte ML-KEM-768 seed. */
  addIdentity(keyId: number, seed: Uint8Array): this;
  /** Unwraps file keys through the key server (FORMAT.md §7). */
  useKeyServer(client: KeyService): this;
  decrypt(input: Uint8Array): Promise<Uint8Array>;
  /** The returned stream errors if the file is truncated or tampered with; only a stream that closes cleanly is complete. */
  decrypt(input: ReadableStream<Uint8Array>): Promise<ReadableStream<Uint8Array>>;
  decryptStream(): TransformStream<Uint8Array, Uint8Array>;
}

/**
 * Moves a whole .pqf file to a current key: the key server rewraps its
 * header (`client.rewrap`) and the result is the new header followed by the
 * input's bytes after the old header, unchanged. A Blob (or File) gives a
 * Blob slicing the input (nothing copied), a stream a stream passing the
 * input's chunks through; settles once the header is rewrapped. Rejects with
 * the key server's KeyServerError (e.g. 403 `key_revoked`, 409
 * `stored_header_mismatch`), `bad_server_response`, or the header's
 * PqfileError (`bad_magic`, `truncated_header`, ...) before any request.
 */
export declare function rewrapFile(client: RewrapService, file: Uint8Array): Promise<RewrappedFile<Uint8Array>>;
export declare function rewrapFile(client: RewrapService, file: Blob): Promise<RewrappedFile<Blob>>;
export declare function rewrapFile(client: RewrapService, file: ReadableStream<Uint8Array>): Promise<RewrappedFile<ReadableStream<Uint8Array>>>;

export declare function toBase64(bytes: Uint8Array): string;
export declare function fromBase64(text: string): Uint8Array;
