/** The `code` of every error the package throws (FORMAT.md §9 and more). */
export const ErrorCode = Object.freeze({
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
  InvalidState: 'invalid_state',
});

/** An error of the file format or of its use; branch on `code`. */
export class PqfileError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'PqfileError';
    this.code = code;
  }
}

/** An error answered by the key server (or a failure to reach it). */
export class KeyServerError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the server was not reached
   * @param {string} code the server's machine-readable code
   */
  constructor(status, code, message, options) {
    super(message, options);
    this.name = 'KeyServerError';
    this.status = status;
    this.code = code;
  }
}

/** Turns an error thrown by the wasm bindings into a PqfileError. */
export function fromWasm(e) {
  if (e instanceof PqfileError || e instanceof KeyServerError) return e;
  if (e && e.name === 'PqfileError' && typeof e.code === 'string') {
    const err = new PqfileError(e.code, e.message);
    if (e.needed !== undefined) err.needed = e.needed;
    return err;
  }
  return e;
}
