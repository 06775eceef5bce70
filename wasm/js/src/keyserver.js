// Client of the key server's HTTP API (keyserver/README.md), shared by the
// package's Encrypter/Decrypter (createDocument, unwrap), rewrapFile
// (rewrap) and the web page (its documents list, access history and
// sharing). Encrypter/Decrypter only need an object with `createDocument()`
// and `unwrap()` (a `KeyService`; `unwrapWithKeyState()` too for the key's
// state), so tests and other transports can stand in for this class.

import { ClientErrorCode, KeyServerError } from './errors.js';

/**
 * @typedef {{ documentId: string, keyId: number, algorithm: 'ML-KEM-768', publicKey: Uint8Array }} KeyServerDocument
 * @typedef {{ documentId: string, keyId: number, createdAt: string, owner: string, shared: boolean, hasContent: boolean }} DocumentSummary
 * @typedef {{ accessType: string | null, timestamp: string | null, user: string | null, ipAddress: string | null, userAgent: string | null, outcome: string, reason: string | null }} AccessEntry
 * @typedef {{ user: string, grantedAt: string }} Grant
 * @typedef {'active' | 'rotation_queued' | (string & {})} KeyStatus
 * @typedef {{ keyId: number, status: KeyStatus, expiresAt: string | null, retiring: boolean }} KeyState
 * @typedef {{ transportStanza: Uint8Array, keyState: KeyState | null }} UnwrapAnswer
 * @typedef {{ header: Uint8Array, keyId: number, replacedKeyId: number }} RewrapAnswer
 */

/** The key state that means "being retired: rewrap your copy before it expires". */
const ROTATION_QUEUED = 'rotation_queued';

/**
 * Standard base64 of bytes.
 * @param {Uint8Array} bytes
 * @returns {string}
 */
export function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * Bytes of standard base64.
 * @param {string} text
 * @returns {Uint8Array}
 */
export function fromBase64(text) {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * The error of an answer that does not have the shape the API documents.
 * @param {string} what
 */
function badAnswer(what) {
  return new KeyServerError(200, ClientErrorCode.BadServerResponse, `the key server's answer ${what}`);
}

/**
 * `value[field]` if it is an array, else a `bad_server_response`.
 * @param {any} value
 * @param {string} field
 * @returns {any[]}
 */
function arrayField(value, field) {
  const list = value?.[field];
  if (!Array.isArray(list)) throw badAnswer(`has no ${field} list`);
  return list;
}

/**
 * The bytes of base64 field `field` of `value`, else a `bad_server_response`.
 * @param {any} value
 * @param {string} field
 * @returns {Uint8Array}
 */
function base64Field(value, field) {
  const text = value?.[field];
  if (typeof text !== 'string') throw badAnswer(`has no ${field}`);
  try {
    return fromBase64(text);
  } catch {
    throw badAnswer(`has a ${field} that is not base64`);
  }
}

/**
 * The state of the key that opened the stanza, from an unwrap answer's
 * `key_id`, `key_status` and `key_expires_at`; null from a server that does
 * not send them (before issue 11).
 * @param {any} json
 * @returns {KeyState | null}
 */
function keyStateOf(json) {
  const { key_id: keyId, key_status: status, key_expires_at: expiresAt } = json;
  if (keyId === undefined && status === undefined && expiresAt === undefined) return null;
  if (typeof keyId !== 'number' || typeof status !== 'string') throw badAnswer('has a key_id or key_status of the wrong type');
  if (expiresAt !== undefined && expiresAt !== null && (typeof expiresAt !== 'string' || Number.isNaN(Date.parse(expiresAt)))) {
    throw badAnswer('has a key_expires_at that is not a date');
  }
  return { keyId, status, expiresAt: expiresAt ?? null, retiring: status === ROTATION_QUEUED };
}

/** @param {string} documentId */
const documentPath = (documentId) => `/v1/documents/${encodeURIComponent(documentId)}`;

/** `undefined` and `null` become `null`: the API's absent optional fields. */
const orNull = (/** @type {any} */ v) => v ?? null;

export class KeyServerClient {
  /** @type {string} */ #baseUrl;
  /** @type {string} */ #token;
  /** @type {typeof fetch} */ #fetch;

  /**
   * @param {string} baseUrl e.g. "https://keys.example.com"
   * @param {string} token sent as `Authorization: Bearer <token>`
   * @param {{ fetch?: typeof fetch }} [options]
   */
  constructor(baseUrl, token, options = {}) {
    this.#baseUrl = baseUrl.replace(/\/+$/, '');
    this.#token = token;
    this.#fetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  /**
   * One API call. Failures are KeyServerErrors: status 0 and
   * `server_unreachable` when no answer came, the server's `error.code` (or
   * `http_<status>`) for an error status, `bad_server_response` for a
   * success whose body is not JSON. 204 resolves to `undefined`.
   * @param {'GET' | 'POST' | 'DELETE'} method
   * @param {string} path
   * @param {unknown} [body] sent as JSON
   * @returns {Promise<any>}
   */
  async #request(method, path, body) {
    /** @type {Record<string, string>} */
    const headers = { authorization: `Bearer ${this.#token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await this.#fetch(this.#baseUrl + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        // Listings change with every encryption: never answer from a cache.
        cache: 'no-store',
      });
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      throw new KeyServerError(0, ClientErrorCode.ServerUnreachable, `the key server could not be reached: ${reason}`, { cause: e });
    }
    if (res.status === 204) return undefined;
    const text = await res.text();
    let json;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const err = json?.error;
      throw new KeyServerError(
        res.status,
        (typeof err?.code === 'string' && err.code) || `http_${res.status}`,
        (typeof err?.message === 'string' && err.message) || `the key server answered ${res.status}`,
      );
    }
    if (json === undefined) throw new KeyServerError(res.status, ClientErrorCode.BadServerResponse, 'the key server sent a body that is not JSON');
    return json;
  }

  /**
   * `POST /v1/documents`: a new document id and the key to encrypt it to.
   * @returns {Promise<KeyServerDocument>}
   */
  async createDocument() {
    const json = await this.#request('POST', '/v1/documents', {});
    const key = json.key ?? {};
    if (typeof json.document_id !== 'string' || typeof key.key_id !== 'number' || typeof key.public_key !== 'string') {
      throw badAnswer('is missing fields of the document');
    }
    if (key.algorithm !== 'ML-KEM-768') {
      throw new KeyServerError(200, ClientErrorCode.UnsupportedAlgorithm, `the key server's key uses ${key.algorithm}, not ML-KEM-768`);
    }
    return { documentId: json.document_id, keyId: key.key_id, algorithm: key.algorithm, publicKey: fromBase64(key.public_key) };
  }

  /**
   * `POST /v1/documents/{id}/unwrap`: the file key of `stanza`, re-wrapped to
   * the ephemeral public key as a transport stanza (FORMAT.md §7).
   * @param {string} documentId
   * @param {Uint8Array} stanza
   * @param {Uint8Array} ephemeralPublicKey
   * @returns {Promise<Uint8Array>} the transport stanza's encoding
   */
  async unwrap(documentId, stanza, ephemeralPublicKey) {
    return (await this.unwrapWithKeyState(documentId, stanza, ephemeralPublicKey)).transportStanza;
  }

  /**
   * `unwrap`, with the state of the key that opened the stanza: `retiring`
   * (`key_status` `rotation_queued`) means the key stops unwrapping at
   * `expiresAt`, so the copy should be rewrapped (`rewrap`, `rewrapFile`).
   * @param {string} documentId
   * @param {Uint8Array} stanza
   * @param {Uint8Array} ephemeralPublicKey
   * @returns {Promise<UnwrapAnswer>}
   */
  async unwrapWithKeyState(documentId, stanza, ephemeralPublicKey) {
    const json = await this.#request('POST', `${documentPath(documentId)}/unwrap`, {
      stanza: toBase64(stanza),
      ephemeral_public_key: toBase64(ephemeralPublicKey),
    });
    return { transportStanza: base64Field(json, 'transport_stanza'), keyState: keyStateOf(json) };
  }

  /**
   * `POST /v1/documents/{id}/rewrap`: the file's whole header (MAC included)
   * with its stanza for the key it depends on replaced by one for a current
   * key, MAC recomputed (FORMAT.md §8). The new file is the new header
   * followed by the old file's bytes after the old header (`rewrapFile`).
   * @param {string} documentId
   * @param {Uint8Array} header
   * @returns {Promise<RewrapAnswer>}
   */
  async rewrap(documentId, header) {
    if (!(header instanceof Uint8Array)) throw new TypeError('rewrap: the header must be a Uint8Array');
    const json = await this.#request('POST', `${documentPath(documentId)}/rewrap`, { header: toBase64(header) });
    const bytes = base64Field(json, 'header');
    if (typeof json.key_id !== 'number' || typeof json.replaced_key_id !== 'number') throw badAnswer('has no key_id or replaced_key_id');
    return { header: bytes, keyId: json.key_id, replacedKeyId: json.replaced_key_id };
  }

  /**
   * `GET /v1/me`: whom this client's token belongs to.
   * @returns {Promise<{ id: number, name: string, role: string }>}
   */
  async me() {
    const json = await this.#request('GET', '/v1/me');
    return { id: Number(json.id), name: String(json.name), role: String(json.role) };
  }

  /**
   * `GET /v1/documents`: the caller's documents and those shared with them
   * (`shared: true`), newest first.
   * @returns {Promise<DocumentSummary[]>}
   */
  async listDocuments() {
    const json = await this.#request('GET', '/v1/documents');
    return arrayField(json, 'documents').map((d) => ({
      documentId: String(d.document_id),
      keyId: d.key_id,
      createdAt: d.created_at,
      owner: d.owner,
      shared: Boolean(d.shared),
      hasContent: Boolean(d.has_content),
    }));
  }

  /**
   * `GET /v1/documents/{id}/access`: a document's audit log, newest first
   * (owner or admin).
   * @param {string} documentId
   * @returns {Promise<AccessEntry[]>}
   */
  async accessHistory(documentId) {
    const json = await this.#request('GET', `${documentPath(documentId)}/access`);
    return arrayField(json, 'entries').map((e) => ({
      accessType: orNull(e.access_type),
      timestamp: orNull(e.timestamp),
      user: orNull(e.user),
      ipAddress: orNull(e.ip_address),
      userAgent: orNull(e.user_agent),
      outcome: e.outcome,
      reason: orNull(e.reason),
    }));
  }

  /**
   * `GET /v1/documents/{id}/grants`: who else may decrypt a document, oldest
   * grant first (owner or admin).
   * @param {string} documentId
   * @returns {Promise<Grant[]>}
   */
  async listGrants(documentId) {
    const json = await this.#request('GET', `${documentPath(documentId)}/grants`);
    return arrayField(json, 'grants').map((g) => ({ user: g.user, grantedAt: g.granted_at }));
  }

  /**
   * `POST /v1/documents/{id}/grants`: lets `user` decrypt the document
   * (owner or admin; idempotent).
   * @param {string} documentId
   * @param {string} user
   * @returns {Promise<Grant>}
   */
  async grantAccess(documentId, user) {
    const json = await this.#request('POST', `${documentPath(documentId)}/grants`, { user });
    if (typeof json.user !== 'string') throw badAnswer('has no user');
    return { user: json.user, grantedAt: json.granted_at };
  }

  /**
   * `DELETE /v1/documents/{id}/grants/{user}`: takes `user`'s access back.
   * @param {string} documentId
   * @param {string} user
   * @returns {Promise<void>}
   */
  async revokeAccess(documentId, user) {
    await this.#request('DELETE', `${documentPath(documentId)}/grants/${encodeURIComponent(user)}`);
  }
}
