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
  await assert.rejects(down.createDocument(), (e) => e instanceof KeyServerError && e.code === 'network_error' && e.status === 0);
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
