import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as pqfile from 'pqfile';
import { Encrypter, Decrypter, KeyServerClient, KeyServerError, PqfileError } from 'pqfile';
import { startStubKeyServer } from './stub-keyserver.js';
import { pattern } from './shared/equivalence.js';
import { collect, streamOf } from './helpers.js';

let stub;
before(async () => {
  stub = await startStubKeyServer();
});
after(() => stub.close());

test('encrypt to a new key-server document, decrypt through the unwrap protocol', async () => {
  const client = new KeyServerClient(stub.url + '/', stub.token);
  const data = pattern(70000);
  for (const webCrypto of [true, false]) {
    const enc = new Encrypter({ webCrypto }).useKeyServer(client);
    const file = await enc.encrypt(data);
    assert.ok(stub.documents.has(enc.documentId));
    const header = pqfile.Header.parse(file);
    assert.equal(header.documentId, enc.documentId);
    assert.deepEqual(header.stanzas.map((s) => s.keyId), [stub.keyId]);
    header.free();
    const dec = new Decrypter({ webCrypto }).useKeyServer(client);
    assert.deepEqual(await dec.decrypt(file), data);
    assert.equal(dec.documentId, enc.documentId);
  }
  const unwrap = stub.calls.find((c) => c.url.endsWith('/unwrap'));
  assert.equal(unwrap.authorization, `Bearer ${stub.token}`);
  const body = JSON.parse(unwrap.body);
  assert.equal(Buffer.from(body.stanza, 'base64').length, 8 + 1136);
  assert.equal(Buffer.from(body.ephemeral_public_key, 'base64').length, 1184);
  // A fresh ephemeral key for every unwrap.
  const ephs = stub.calls.filter((c) => c.url.endsWith('/unwrap')).map((c) => JSON.parse(c.body).ephemeral_public_key);
  assert.equal(new Set(ephs).size, ephs.length);
});

test('streams through the key server', async () => {
  const client = new KeyServerClient(stub.url, stub.token);
  const data = pattern(100000, 3);
  const encrypted = streamOf(data, 3000).pipeThrough(new Encrypter().useKeyServer(client).encryptStream());
  const decrypted = encrypted.pipeThrough(new Decrypter().useKeyServer(client).decryptStream());
  assert.deepEqual(await collect(decrypted), data);
});

test('key-server errors surface with status, code and message', async () => {
  const bad = new KeyServerClient(stub.url, 'wrong-token');
  await assert.rejects(new Encrypter().useKeyServer(bad).encrypt(new Uint8Array(1)), (e) => {
    assert.ok(e instanceof KeyServerError);
    assert.equal(e.status, 401);
    assert.equal(e.code, 'unauthorized');
    assert.match(e.message, /bearer/);
    return true;
  });
  const client = new KeyServerClient(stub.url, stub.token);
  const file = await new Encrypter().useKeyServer(client).encrypt(new Uint8Array(10));
  await assert.rejects(new Decrypter().useKeyServer(bad).decrypt(file), (e) => e.status === 401);
  const down = new KeyServerClient('http://127.0.0.1:1', stub.token);
  await assert.rejects(down.createDocument(), (e) => e instanceof KeyServerError && e.code === 'server_unreachable' && e.status === 0);
});

test('a stanza spliced into another document is refused (W2)', async () => {
  const client = new KeyServerClient(stub.url, stub.token);
  const a = await new Encrypter().useKeyServer(client).encrypt(pattern(100));
  const b = await new Encrypter().useKeyServer(client).encrypt(pattern(100));
  const ha = pqfile.Header.parse(a);
  // b's header with a's document id: the server's unwrap in a's document fails.
  const spliced = b.slice();
  spliced.set(a.subarray(6, 22), 6);
  await assert.rejects(new Decrypter().useKeyServer(client).decrypt(spliced), (e) => {
    assert.ok(e instanceof KeyServerError, `${e}`);
    assert.equal(e.status, 422);
    assert.equal(e.code, 'decryption_failed');
    return true;
  });
  ha.free();
});

test('a transport stanza for another key cannot be opened', async () => {
  const fake = {
    createDocument: async () => { throw new Error('unused'); },
    // Answers with a transport stanza sealed to some other ephemeral key.
    unwrap: async (documentId) => {
      const other = pqfile.MlKem768SecretKey.generate();
      const stanza = pqfile.wrapFileKey(pqfile.FileKey.generate(), documentId, 0, other.publicKey());
      other.free();
      return stanza;
    },
  };
  const client = new KeyServerClient(stub.url, stub.token);
  const file = await new Encrypter().useKeyServer(client).encrypt(pattern(10));
  await assert.rejects(new Decrypter().useKeyServer(fake).decrypt(file), (e) => e instanceof PqfileError && e.code === 'decryption_failed');
});

test('lists documents and their access history, grants and revokes access', async () => {
  const client = new KeyServerClient(stub.url, stub.token);
  const enc = new Encrypter().useKeyServer(client);
  const file = await enc.encrypt(pattern(100));
  await new Decrypter().useKeyServer(client).decrypt(file);
  const id = enc.documentId;
  const newest = await client.createDocument();

  const docs = await client.listDocuments();
  assert.equal(docs[0].documentId, newest.documentId, 'newest first');
  const doc = docs.find((d) => d.documentId === id);
  assert.deepEqual(Object.keys(doc).sort(), ['createdAt', 'documentId', 'hasContent', 'keyId', 'owner', 'shared']);
  assert.equal(doc.keyId, stub.keyId);
  assert.equal(doc.owner, 'alice');
  assert.equal(doc.shared, false);
  assert.equal(doc.hasContent, false);
  assert.equal(typeof doc.createdAt, 'string');

  const history = await client.accessHistory(id);
  assert.deepEqual(history.map((e) => e.accessType), ['decrypt', 'encrypt']);
  assert.deepEqual(Object.keys(history[0]).sort(), ['accessType', 'ipAddress', 'outcome', 'reason', 'timestamp', 'user', 'userAgent']);
  assert.equal(history[0].outcome, 'allowed');
  assert.equal(history[0].reason, null);

  assert.deepEqual(await client.listGrants(id), []);
  const grant = await client.grantAccess(id, 'bob');
  assert.equal(grant.user, 'bob');
  assert.equal(typeof grant.grantedAt, 'string');
  assert.deepEqual(await client.grantAccess(id, 'bob'), grant, 'granting twice changes nothing');
  assert.deepEqual(await client.listGrants(id), [grant]);
  assert.equal(await client.revokeAccess(id, 'bob'), undefined);
  assert.deepEqual(await client.listGrants(id), []);

  const post = stub.calls.findLast((c) => c.method === 'POST' && c.url.endsWith('/grants'));
  assert.deepEqual(JSON.parse(post.body), { user: 'bob' });
  assert.equal(post.authorization, `Bearer ${stub.token}`);
  assert.ok(stub.calls.some((c) => c.method === 'DELETE' && c.url === `/v1/documents/${id}/grants/bob`));

  const refused = (code, status) => (e) => e instanceof KeyServerError && e.code === code && e.status === status;
  await assert.rejects(client.grantAccess(id, 'mallory'), refused('user_not_found', 404));
  await assert.rejects(client.grantAccess(id, 'alice'), refused('self_grant', 400));
  await assert.rejects(client.revokeAccess(id, 'bob'), refused('grant_not_found', 404));
  await assert.rejects(client.accessHistory('00'.repeat(15) + '01'), refused('document_not_found', 404));
  await assert.rejects(new KeyServerClient(stub.url, 'wrong-token').listDocuments(), refused('unauthorized', 401));
  await assert.rejects(new KeyServerClient('http://127.0.0.1:1', stub.token).listGrants(id), refused('server_unreachable', 0));
});

test('an answer without the documented shape is bad_server_response', async () => {
  /** A fetch whose every answer is `body` with status 200. */
  const answering = (body) => async () => new Response(body, { status: 200 });
  const notJson = new KeyServerClient('http://keys.invalid', 't', { fetch: answering('<html>') });
  const empty = new KeyServerClient('http://keys.invalid', 't', { fetch: answering('{}') });
  const bad = (e) => e instanceof KeyServerError && e.code === 'bad_server_response' && e.status === 200;
  await assert.rejects(notJson.listDocuments(), bad);
  for (const call of [
    () => empty.createDocument(),
    () => empty.unwrap('ab'.repeat(16), new Uint8Array(8), new Uint8Array(1184)),
    () => empty.listDocuments(),
    () => empty.accessHistory('ab'.repeat(16)),
    () => empty.listGrants('ab'.repeat(16)),
    () => empty.grantAccess('ab'.repeat(16), 'bob'),
  ]) {
    await assert.rejects(call(), bad);
  }
});
