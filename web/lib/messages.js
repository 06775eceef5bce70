// What the user reads when something fails: every error the package or the
// key server can produce becomes a title (what happened) and a detail (what
// to do). Branches on stable codes (PqfileError.code, KeyServerError.code /
// status; keyserver/README.md), never on message text. Every code of the
// package's ErrorCode and ClientErrorCode has its entry below
// (wasm/js/test/error-codes.test.js checks it).

/** @typedef {{ code: string, title: string, detail: string, offerSignIn?: boolean }} Message */
/** @typedef {(err: any, name: string, partial: string) => Message} Explain */

/** @type {Explain} */
const notPqf = (_err, name) => ({
  code: 'not_pqf',
  title: `“${name}” is not a pqfile (.pqf) file.`,
  detail: 'It does not start with the PQF signature. Drop a file that pqfile encrypted, or drop any other file to encrypt it.',
});
/** @type {Explain} */
const damaged = (err, name) => ({
  code: 'damaged',
  title: `“${name}” is damaged or not a valid .pqf file.`,
  detail: `Its header cannot be read (${err.code.replaceAll('_', ' ')}).`,
});
/** @type {Explain} */
const tampered = (_err, name, partial) => ({
  code: 'tampered',
  title: `“${name}” has been tampered with or is corrupted.`,
  detail: `It failed authentication, so its contents cannot be trusted.${partial}`,
});
/** @type {Explain} */
const unsupported = (err) => ({
  code: err.code,
  title: 'This file cannot be decrypted here.',
  detail: 'It was encrypted with a key type this version of pqfile does not support.',
});
/** A misuse of the package (keys, recipients, state): the page has no better words than the package's. @type {Explain} */
const notProcessed = (err) => ({ code: err.code, title: 'The file could not be processed.', detail: err.message });

/** How the page explains each PqfileError code (the package's ErrorCode, FORMAT.md §9). */
export const FILE_ERRORS = Object.freeze({
  truncated_header: damaged,
  bad_magic: notPqf,
  unsupported_version: damaged,
  reserved_flags: damaged,
  bad_stanza_count: damaged,
  bad_document_id: damaged,
  bad_stanza_body: damaged,
  stanza_too_large: damaged,
  bad_key_id: damaged,
  duplicate_stanza: damaged,
  unsupported_kem: unsupported,
  no_matching_stanza: unsupported,
  decryption_failed: tampered,
  bad_recipient_count: notProcessed,
  duplicate_recipient: notProcessed,
  message_too_long: notProcessed,
  invalid_public_key: notProcessed,
  invalid_secret_key: notProcessed,
  invalid_ciphertext: notProcessed,
  /** The key server's unwrap answer is not a transport stanza (FORMAT.md §7.1 K3). @type {Explain} */
  bad_server_response: (err, name, partial) => CLIENT_ERRORS.bad_server_response(err, name, partial),
  invalid_state: notProcessed,
});

/** @returns {Message} */
const unreachable = () => ({
  code: 'server_unreachable',
  title: 'The key server cannot be reached.',
  detail: `${location.origin} did not answer. Check that the key server is running and that you are online, then try again.`,
});

/**
 * How the page explains the codes of KeyServerErrors the package's client
 * raises itself (its ClientErrorCode): no answer, or one it cannot use.
 */
export const CLIENT_ERRORS = Object.freeze({
  server_unreachable: unreachable,
  /** @type {Explain} */
  bad_server_response: (err) => ({
    code: err.code,
    title: 'The key server sent an answer this page does not understand.',
    detail: 'It may run another version of pqfile. Try again; if it keeps happening, tell the server’s administrator.',
  }),
  /** @type {Explain} */
  unsupported_algorithm: (err) => ({
    code: err.code,
    title: 'The key server offers a key type this page does not support.',
    detail: err.message,
  }),
});

/**
 * @param {any} err
 * @param {{ mode: 'encrypt' | 'decrypt' | 'rewrap', fileName: string, sink?: string }} ctx
 * @returns {Message}
 */
export function describeError(err, ctx) {
  const name = ctx.fileName;
  const partial = ctx.sink === 'service-worker'
    ? ' The download was stopped; delete any partial file your browser kept.'
    : ' Nothing was saved.';

  if (err?.name === 'AbortError') {
    return { code: 'cancelled', title: 'Cancelled.', detail: `The ${{ encrypt: 'encryption', decrypt: 'decryption', rewrap: 'rewrap' }[ctx.mode]} of “${name}” was stopped.${partial}` };
  }

  if (err?.name === 'KeyServerError') {
    const { status, code } = err;
    if (status === 0) return unreachable();
    if (Object.hasOwn(CLIENT_ERRORS, code)) return CLIENT_ERRORS[/** @type {keyof typeof CLIENT_ERRORS} */ (code)](err, name, partial);
    if (status === 401) {
      /** @type {Record<string, string>} */
      const reasons = {
        token_expired: 'It has expired. Ask your administrator for a new token and sign in with it.',
        token_revoked: 'It has been revoked, or your account disabled. Ask your administrator.',
      };
      const why = reasons[String(code)] ?? 'It is not a token this key server issued. Sign in again with a valid token.';
      return { code: 'bad_token', title: 'Your sign-in token was not accepted.', detail: why, offerSignIn: true };
    }
    if (code === 'rate_limited') {
      return {
        code,
        title: 'Too many requests: the key server asks you to slow down.',
        detail: `Nothing was changed. Try “${name}” again in a moment.`,
      };
    }
    if (code === 'quota_exceeded') {
      return {
        code,
        title: 'Your quota on this key server is used up.',
        detail: `${err.message} Nothing was changed; delete stored files you no longer need, or ask your administrator for more room.`,
      };
    }
    if (code === 'key_revoked') {
      return {
        code: 'key_revoked',
        title: 'This file’s key has been revoked.',
        detail: `The key server no longer releases the key of “${name}”, so it cannot be decrypted. Ask the document’s owner for a fresh copy.`,
      };
    }
    if (code === 'key_expired') {
      return {
        code: 'key_expired',
        title: 'This file’s key has expired.',
        detail: `The key of “${name}” was retired and its grace period is over, so the key server no longer releases it. Only an administrator can still rescue the document.`,
      };
    }
    if (code === 'stored_header_mismatch') {
      return {
        code: 'stored_header_mismatch',
        title: 'The key server keeps another copy of this file.',
        detail: `“${name}” is not the copy stored for this document, so it was not rewrapped and nothing was saved. Download the stored copy and rewrap that one.`,
      };
    }
    if (status === 403) {
      return {
        code: 'no_access',
        title: 'You do not have access to this file.',
        detail: `The key server refused to ${ctx.mode === 'rewrap' ? 'rewrap' : 'unwrap'} “${name}” for your account. Ask its owner to share it with you.`,
      };
    }
    if (code === 'document_not_found') {
      return {
        code: 'unknown_document',
        title: 'This key server does not know this file.',
        detail: `“${name}” was encrypted for a document this server has no record of — probably by another pqfile server.`,
      };
    }
    if (code === 'key_not_found' || code === 'key_mismatch') {
      return {
        code: 'unknown_key',
        title: 'This file was encrypted to a key this server does not hold.',
        detail: `“${name}” names a key the key server does not have for this document; it may come from another server, or its header was altered.`,
      };
    }
    if (code === 'decryption_failed') return tampered(err, name, partial);
    if (code === 'kms_unavailable') {
      return {
        code: 'kms_unavailable',
        title: 'The key server’s key management service is unavailable.',
        detail: 'Your file is fine; the server cannot open its keys right now. Try again in a minute.',
      };
    }
    if (code === 'no_active_key') {
      return { code, title: 'No encryption key is available right now.', detail: 'The key server is generating new keys. Try again in a few seconds.' };
    }
    if (status === 503) {
      return { code: 'server_unavailable', title: 'The key server is temporarily unavailable.', detail: 'It could not reach its database or audit log. Try again in a minute.' };
    }
    if (status >= 500) {
      return { code: 'server_error', title: 'The key server hit an internal error.', detail: 'Try again; if it keeps happening, tell the server’s administrator.' };
    }
    return { code: code || 'server_refused', title: 'The key server refused the request.', detail: err.message };
  }

  if (err?.name === 'PqfileError') {
    const explain = Object.hasOwn(FILE_ERRORS, err.code) ? FILE_ERRORS[/** @type {keyof typeof FILE_ERRORS} */ (err.code)] : notProcessed;
    return explain(err, name, partial);
  }

  if (err?.name === 'NotReadableError' || err?.name === 'NotFoundError') {
    return { code: 'unreadable', title: `“${name}” could not be read.`, detail: 'It may have been moved, changed or deleted while it was being read. Choose it again.' };
  }
  if (err?.name === 'QuotaExceededError') {
    return { code: 'disk_full', title: 'There is not enough space to save the result.', detail: 'Free some disk space and try again.' };
  }
  if (err?.name === 'NotAllowedError') {
    return { code: 'save_not_allowed', title: 'The browser did not allow saving the file.', detail: 'Allow the page to save files and try again.' };
  }
  if (err instanceof TypeError && /fetch|network/i.test(err.message)) {
    // The wasm module or a key-server call could not be fetched.
    return describeError({ name: 'KeyServerError', status: 0, code: 'server_unreachable' }, ctx);
  }
  return { code: 'unexpected', title: 'Something went wrong.', detail: String(err?.message ?? err) };
}

/**
 * A `#token=` link whose token the key server refused, or could not be asked
 * about, while another session is open: the session stays (app/session.js).
 * @param {'invalid' | 'unreachable'} verdict
 * @param {string | undefined} currentName the signed-in user, when known
 * @returns {Message}
 */
export function linkTokenRefused(verdict, currentName) {
  const still = currentName ? `You are still signed in as ${currentName}.` : 'You are still signed in as before.';
  return {
    code: verdict === 'invalid' ? 'link_token_invalid' : 'link_token_unchecked',
    title: 'The token in the link was not accepted.',
    detail: verdict === 'invalid'
      ? `It is invalid or has been revoked, so the link was not used. ${still}`
      : `The key server did not answer, so the token in the link could not be checked and was not used. ${still}`,
  };
}
