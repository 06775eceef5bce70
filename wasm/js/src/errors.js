// The package's two error classes and their code lists. The codes are the
// same words in the core, the wasm layer, the CLI, the key server's HTTP
// API and the web page's messages; test/error-codes.test.js fails when
// these lists and theirs disagree.

/** @typedef {import('../dist/bundler/pqfile_wasm.js').ErrorCode} ErrorCodeValue */

/** The `code` of every PqfileError the package throws (FORMAT.md §9 and more). */
export const ErrorCode = Object.freeze(/** @type {const} */ ({
  TruncatedHeader: 'truncated_header',
  BadMagic: 'bad_magic',
  UnsupportedVersion: 'unsupported_version',
  ReservedFlags: 'reserved_flags',
  BadStanzaCount: 'bad_stanza_count',
  BadDocumentId: 'bad_document_id',
  BadStanzaBody: 'bad_stanza_body',
  StanzaTooLarge: 'stanza_too_large',
  BadKeyId: 'bad_key_id',
  DuplicateStanza: 'duplicate_stanza',
  UnsupportedKem: 'unsupported_kem',
  NoMatchingStanza: 'no_matching_stanza',
  DecryptionFailed: 'decryption_failed',
  BadRecipientCount: 'bad_recipient_count',
  DuplicateRecipient: 'duplicate_recipient',
  MessageTooLong: 'message_too_long',
  InvalidPublicKey: 'invalid_public_key',
  InvalidSecretKey: 'invalid_secret_key',
  InvalidCiphertext: 'invalid_ciphertext',
  BadServerResponse: 'bad_server_response',
  InvalidState: 'invalid_state',
}));

/**
 * The `code` of a KeyServerError the client raises itself, without (or
 * despite) an answer; every other code is the server's own. The CLI uses
 * the same words.
 */
export const ClientErrorCode = Object.freeze(/** @type {const} */ ({
  /** No answer at all (status 0): refused connection, DNS, TLS, CORS. */
  ServerUnreachable: 'server_unreachable',
  /** An answer without the shape the API documents. */
  BadServerResponse: 'bad_server_response',
  /** A key of another algorithm than ML-KEM-768. */
  UnsupportedAlgorithm: 'unsupported_algorithm',
}));

/** An error of the file format or of its use; branch on `code`. */
export class PqfileError extends Error {
  /** @override @type {'PqfileError'} */ name = 'PqfileError';
  /** With `truncated_header`: how many more bytes the header needs at least. @type {number | undefined} */ needed;

  /**
   * @param {ErrorCodeValue} code
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  constructor(code, message, options) {
    super(message, options);
    this.code = code;
  }
}

/** An error answered by the key server (or a failure to reach it). */
export class KeyServerError extends Error {
  /** @override @type {'KeyServerError'} */ name = 'KeyServerError';

  /**
   * @param {number} status HTTP status, 0 when the server was not reached
   * @param {string} code the server's machine-readable code, or a ClientErrorCode
   * @param {string} message
   * @param {ErrorOptions} [options]
   */
  constructor(status, code, message, options) {
    super(message, options);
    this.status = status;
    this.code = code;
  }
}

/**
 * Turns an error thrown by the wasm bindings into a PqfileError.
 * @param {unknown} e
 * @returns {unknown}
 */
export function fromWasm(e) {
  if (e instanceof PqfileError || e instanceof KeyServerError) return e;
  const w = /** @type {{ name?: unknown, code?: unknown, message?: string, needed?: number } | null} */ (e);
  if (w && w.name === 'PqfileError' && typeof w.code === 'string') {
    const err = new PqfileError(/** @type {ErrorCodeValue} */ (w.code), w.message ?? '');
    if (w.needed !== undefined) err.needed = w.needed;
    return err;
  }
  return e;
}
