// An in-process stand-in for the key server's HTTP contract, built on the
// package's own bindings: tests of the client run over real HTTP on
// loopback without the real server (its end-to-end test is another suite).
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import * as pqfile from 'pqfile';

export async function startStubKeyServer({ token = 'test-token', keyId = 42 } = {}) {
  const secretKey = pqfile.MlKem768SecretKey.generate();
  const pk = secretKey.publicKey();
  const publicKey = pk.toBytes();
  pk.free();
  const documents = new Set();
  const calls = [];
  const fail = (res, status, code, message) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code, message } }));
  };
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    calls.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
    if (req.headers.authorization !== `Bearer ${token}`) return fail(res, 401, 'unauthorized', 'missing or invalid bearer token');
    if (req.method === 'POST' && req.url === '/v1/documents') {
      const id = randomBytes(16).toString('hex');
      documents.add(id);
      res.writeHead(201, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({
        document_id: id,
        key: { key_id: keyId, algorithm: 'ML-KEM-768', public_key: Buffer.from(publicKey).toString('base64') },
      }));
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
      let fileKey, eph;
      try {
        fileKey = pqfile.unwrapStanza(Buffer.from(json.stanza, 'base64'), m[1], secretKey);
        eph = pqfile.MlKem768PublicKey.fromBytes(Buffer.from(json.ephemeral_public_key, 'base64'));
      } catch (e) {
        return fail(res, 422, e.code ?? 'bad_request', 'the stanza cannot be unwrapped for this document');
      }
      const transport = pqfile.wrapFileKey(fileKey, m[1], 0, eph);
      fileKey.free();
      eph.free();
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ transport_stanza: Buffer.from(transport).toString('base64') }));
    }
    return fail(res, 404, 'not_found', 'no such route');
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    keyId,
    calls,
    documents,
    close: () => new Promise((r) => server.close(r)).then(() => secretKey.free()),
  };
}
