// The key server's routes for "My documents" and sharing (bearer token;
// keyserver/README.md, keyserver/src/routes/documents.rs and grants.rs):
//   GET    /v1/documents                  -> {"documents": [{document_id, key_id, created_at, owner, shared, has_content}]}
//   GET    /v1/documents/{id}/access      -> {"entries": [{access_type, timestamp, user, ip_address, user_agent, outcome, reason}]} (owner or admin)
//   GET    /v1/documents/{id}/grants      -> {"grants": [{user, granted_at}]}            (owner or admin)
//   POST   /v1/documents/{id}/grants {"user"} -> 201 {document_id, user, granted_at}   (owner or admin)
//   DELETE /v1/documents/{id}/grants/{user}   -> 204
// Encrypting and decrypting use the package's KeyServerClient instead.

import { KeyServerError } from '../vendor/pqfile/src/browser.js';

async function call(method, path, token, body) {
  const headers = { authorization: `Bearer ${token}`, accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(new URL(path, location.origin), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (e) {
    throw new KeyServerError(0, 'network_error', 'the key server could not be reached', { cause: e });
  }
  if (res.status === 204) return null;
  let json;
  try {
    json = await res.json();
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const err = json?.error;
    throw new KeyServerError(res.status, err?.code || `http_${res.status}`, err?.message || `the key server answered ${res.status}`);
  }
  return json;
}

const doc = (id) => `/v1/documents/${encodeURIComponent(id)}`;

/** The caller's documents and those shared with them, newest first as the server sends them. */
export async function listDocuments(token) {
  const json = await call('GET', '/v1/documents', token);
  return Array.isArray(json?.documents) ? json.documents : [];
}

/** The access history of one document (owner or admin), newest first. */
export async function accessHistory(token, documentId) {
  const json = await call('GET', `${doc(documentId)}/access`, token);
  return Array.isArray(json?.entries) ? json.entries : [];
}

/** Who else may decrypt a document (owner or admin), oldest grant first. */
export async function listGrants(token, documentId) {
  const json = await call('GET', `${doc(documentId)}/grants`, token);
  return Array.isArray(json?.grants) ? json.grants : [];
}

/** Lets `user` decrypt the document; idempotent. */
export function grantAccess(token, documentId, user) {
  return call('POST', `${doc(documentId)}/grants`, token, { user });
}

/** Takes `user`'s access back. */
export function revokeAccess(token, documentId, user) {
  return call('DELETE', `${doc(documentId)}/grants/${encodeURIComponent(user)}`, token);
}
