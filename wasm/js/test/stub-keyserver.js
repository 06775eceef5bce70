// An in-process stand-in for the key server's HTTP contract, built on the
// package's own bindings: tests of the client run over real HTTP on
// loopback without the real server (its end-to-end test is another suite).
// Besides createDocument and unwrap it answers the documents list, access
// history and grants the way keyserver/README.md documents them, for one
// user (`owner`) who owns every document and may grant it to `users`. Its
// one key's state (`keyState`, settable) is in every unwrap answer; with one
// key there is nothing to move a document to, so its rewrap checks the
// header (whole, this document's, MAC) and answers it unchanged.
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import * as pqfile from 'pqfile';

// `refuse(documentId, keyId)` may return [status, code] to refuse an unwrap
// of that stanza the way the real server would (retry-policy tests);
// `refuseRewrap(documentId)` the same for a rewrap. `keyState: null` answers
// unwraps the way servers before key expiry did (no key_id, key_status,
// key_expires_at).
export async function startStubKeyServer({
  token = 'test-token', keyId = 42, owner = 'alice', users = ['bob', 'carol'],
  refuse = () => undefined, refuseRewrap = () => undefined,
} = {}) {
  const secretKey = pqfile.MlKem768SecretKey.generate();
  const pk = secretKey.publicKey();
  const publicKey = pk.toBytes();
  pk.free();
  const documents = new Set();
  /** Per document: its creation time, access log (newest first) and grants. */
  const records = new Map();
  const calls = [];
  const stub = { keyState: { key_status: 'active', key_expires_at: null } };
  const now = () => new Date().toISOString();
  const fail = (res, status, code, message) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code, message } }));
  };
  const answer = (res, status, json) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(json));
  };
  const logAccess = (id, accessType, req) => records.get(id).access.unshift({
    access_type: accessType, timestamp: now(), user: owner, ip_address: '127.0.0.1',
    user_agent: req.headers['user-agent'] ?? null, outcome: 'allowed', reason: null,
  });
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    calls.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
    if (req.headers.authorization !== `Bearer ${token}`) return fail(res, 401, 'unauthorized', 'missing or invalid bearer token');
    if (req.method === 'POST' && req.url === '/v1/documents') {
      const id = randomBytes(16).toString('hex');
      documents.add(id);
      records.set(id, { createdAt: now(), access: [], grants: new Map() });
      logAccess(id, 'encrypt', req);
      return answer(res, 201, {
        document_id: id,
        key: { key_id: keyId, algorithm: 'ML-KEM-768', public_key: Buffer.from(publicKey).toString('base64') },
      });
    }
    if (req.method === 'GET' && req.url === '/v1/documents') {
      const list = [...records].reverse().map(([id, r]) => ({
        document_id: id, key_id: keyId, created_at: r.createdAt, owner, shared: false, has_content: false,
      }));
      return answer(res, 200, { documents: list });
    }
    const d = req.url.match(/^\/v1\/documents\/([0-9a-f]{32})\/(access|grants)(?:\/([^/]+))?$/);
    if (d) {
      const record = records.get(d[1]);
      if (!record) return fail(res, 404, 'document_not_found', 'no such document');
      const user = d[3] === undefined ? undefined : decodeURIComponent(d[3]);
      if (req.method === 'GET' && d[2] === 'access' && user === undefined) return answer(res, 200, { entries: record.access });
      if (req.method === 'GET' && d[2] === 'grants' && user === undefined) {
        return answer(res, 200, { grants: [...record.grants].map(([u, at]) => ({ user: u, granted_at: at })) });
      }
      if (req.method === 'POST' && d[2] === 'grants' && user === undefined) {
        const grantee = JSON.parse(body).user;
        if (grantee === owner) return fail(res, 400, 'self_grant', 'the owner cannot be granted access to their own document');
        if (!users.includes(grantee)) return fail(res, 404, 'user_not_found', 'no user has this name');
        if (!record.grants.has(grantee)) record.grants.set(grantee, now());
        return answer(res, 201, { document_id: d[1], user: grantee, granted_at: record.grants.get(grantee) });
      }
      if (req.method === 'DELETE' && d[2] === 'grants' && user !== undefined) {
        if (!record.grants.delete(user)) return fail(res, 404, 'grant_not_found', 'this user has no grant on this document');
        res.writeHead(204);
        return res.end();
      }
    }
    const m = req.url.match(/^\/v1\/documents\/([0-9a-f]{32})\/unwrap$/);
    if (req.method === 'POST' && m) {
      if (!documents.has(m[1])) return fail(res, 404, 'document_not_found', 'no such document');
      let json;
      try {
        json = JSON.parse(body);
      } catch {
        return fail(res, 400, 'bad_request', 'the body is not JSON');
      }
      const refusal = refuse(m[1], Buffer.from(json.stanza ?? '', 'base64').readUInt32BE(2));
      if (refusal) return fail(res, refusal[0], refusal[1], `refused: ${refusal[1]}`);
      let fileKey, eph;
      try {
        fileKey = pqfile.unwrapStanza(Buffer.from(json.stanza, 'base64'), m[1], secretKey);
        eph = pqfile.MlKem768PublicKey.fromBytes(Buffer.from(json.ephemeral_public_key, 'base64'));
      } catch (e) {
        return fail(res, 422, e.code ?? 'bad_request', 'the stanza cannot be unwrapped for this document');
      }
      const transport = pqfile.wrapFileKey(fileKey, m[1], 0, eph);
      logAccess(m[1], 'decrypt', req);
      fileKey.free();
      eph.free();
      const state = stub.keyState === null ? {} : { key_id: keyId, ...stub.keyState };
      return answer(res, 200, { transport_stanza: Buffer.from(transport).toString('base64'), ...state });
    }
    const w = req.url.match(/^\/v1\/documents\/([0-9a-f]{32})\/rewrap$/);
    if (req.method === 'POST' && w) {
      if (!documents.has(w[1])) return fail(res, 404, 'document_not_found', 'no such document');
      const refusal = refuseRewrap(w[1]);
      if (refusal) return fail(res, refusal[0], refusal[1], `refused: ${refusal[1]}`);
      const raw = Buffer.from(JSON.parse(body).header ?? '', 'base64');
      let header;
      try {
        header = pqfile.Header.parse(raw);
      } catch (e) {
        return fail(res, 400, 'invalid_header', `not a header: ${e.code}`);
      }
      try {
        if (header.length !== raw.length) return fail(res, 400, 'invalid_header', 'bytes follow the header');
        if (header.documentId !== w[1]) return fail(res, 400, 'document_mismatch', 'the header is of another document');
        const stanza = header.stanzas.find((st) => st.keyId === keyId);
        if (!stanza) return fail(res, 400, 'no_matching_stanza', 'no stanza for the document key');
        let fileKey;
        try {
          fileKey = pqfile.unwrapStanza(stanza.toBytes(), w[1], secretKey);
        } catch {
          return fail(res, 400, 'decryption_failed', 'the header could not be verified');
        }
        const verified = header.verifyMac(fileKey);
        fileKey.free();
        if (!verified) return fail(res, 400, 'decryption_failed', 'the header could not be verified');
      } finally {
        header.free();
      }
      return answer(res, 200, { header: raw.toString('base64'), key_id: keyId, replaced_key_id: keyId });
    }
    return fail(res, 404, 'not_found', 'no such route');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return Object.assign(stub, {
    url: `http://127.0.0.1:${port}`,
    token,
    keyId,
    calls,
    documents,
    close: () => new Promise((r) => server.close(r)).then(() => secretKey.free()),
  });
}
