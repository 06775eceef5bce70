// ML-KEM-768 encapsulation paths (FIPS 203): WebCrypto `encapsulateBits`
// where the platform has it, wasm otherwise. Whichever path encapsulates,
// the stanza must open with the wasm (RustCrypto) decapsulation. Runs in Node
// (api.test.js: no WebCrypto ML-KEM in Node 20, the wasm fallback) and in
// headless Chromium (browser.test.js: WebCrypto ML-KEM-768).
import { pattern } from './equivalence.js';

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function code(promise) {
  try {
    await promise;
  } catch (e) {
    return e.code ?? String(e);
  }
  return 'no error';
}

/** Counts crypto.subtle.encapsulateBits calls made while `f` runs. */
async function countWebCryptoEncaps(f) {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle || typeof subtle.encapsulateBits !== 'function') {
    await f();
    return 0;
  }
  let calls = 0;
  const original = subtle.encapsulateBits;
  subtle.encapsulateBits = function (...args) {
    calls++;
    return original.apply(this, args);
  };
  try {
    await f();
  } finally {
    delete subtle.encapsulateBits;
  }
  return calls;
}

/** Returns a summary; throws on the first failed check. */
export async function kemPathsAgree(pqfile) {
  const out = { webCryptoKem: await pqfile.hasWebCryptoKem() };
  const seed = crypto.getRandomValues(new Uint8Array(64));
  const sk = pqfile.MlKem768SecretKey.fromSeed(seed);
  const pk = sk.publicKey();
  const publicKey = pk.toBytes();
  pk.free();
  const docId = '00112233445566778899aabbccddeeff';
  const data = pattern(70000, 5);

  // 1. Every encapsulation path seals a stanza the wasm decapsulation opens.
  const paths = out.webCryptoKem ? [true, false, 'auto'] : [false, 'auto'];
  for (const webCrypto of paths) {
    const enc = await pqfile.encapsulate(publicKey, { webCrypto });
    check(enc.ciphertext.length === 1088, `${webCrypto}: ciphertext length`);
    const list = new pqfile.Recipients();
    list.addEncapsulated(9, enc);
    const encryptor = new pqfile.Encryptor(list, docId);
    check((await code(Promise.resolve().then(() => new pqfile.Encryptor(list, docId)))) === 'invalid_state', `${webCrypto}: an encapsulation sealed two files`);
    list.free();
    const parts = [encryptor.push(data), encryptor.finish()];
    encryptor.free();
    const file = new Uint8Array(parts[0].length + parts[1].length);
    file.set(parts[0]);
    file.set(parts[1], parts[0].length);
    const header = pqfile.Header.parse(file);
    const stanza = header.stanzas[0];
    const fileKey = pqfile.unwrapStanza(stanza.toBytes(), docId, sk); // throws unless it opens
    fileKey.free();
    stanza.free();
    header.free();
    const plain = await new pqfile.Decrypter({ webCrypto: false }).addIdentity(9, seed).decrypt(file);
    check(equalBytes(plain, data), `${webCrypto}: round trip`);
  }

  // 2. The Encrypter uses WebCrypto ML-KEM exactly where it exists, and not
  //    with `webCrypto: false`; both files decrypt with the wasm key.
  for (const webCrypto of ['auto', false]) {
    let file;
    const calls = await countWebCryptoEncaps(async () => {
      file = await new pqfile.Encrypter({ webCrypto }).addRecipient(4, publicKey).encrypt(data);
    });
    const expected = webCrypto !== false && out.webCryptoKem ? 1 : 0;
    check(calls === expected, `Encrypter webCrypto=${webCrypto}: ${calls} WebCrypto encapsulations, expected ${expected}`);
    const plain = await new pqfile.Decrypter({ webCrypto: false }).addIdentity(4, seed).decrypt(file);
    check(equalBytes(plain, data), `Encrypter webCrypto=${webCrypto}: round trip`);
  }
  if (!out.webCryptoKem) {
    check((await code(pqfile.encapsulate(publicKey, { webCrypto: true }))) === 'invalid_state', 'webCrypto: true without WebCrypto ML-KEM must throw invalid_state');
  }

  // 3. Keys WebCrypto and wasm both derive from one FIPS 203 seed agree.
  if (out.webCryptoKem) {
    const kp = await crypto.subtle.generateKey({ name: 'ML-KEM-768' }, true, ['encapsulateBits', 'decapsulateBits']);
    const wcSeed = new Uint8Array(await crypto.subtle.exportKey('raw-seed', kp.privateKey));
    const wcPublic = new Uint8Array(await crypto.subtle.exportKey('raw-public', kp.publicKey));
    const wsk = pqfile.MlKem768SecretKey.fromSeed(wcSeed);
    const wpk = wsk.publicKey();
    check(equalBytes(wpk.toBytes(), wcPublic), 'WebCrypto and wasm derive different public keys from one seed');
    wpk.free();
    wsk.free();
    // And WebCrypto decapsulates what the wasm KEM encapsulated to its key:
    // a file for the WebCrypto key pair decrypts with its seed in wasm.
    const file = await new pqfile.Encrypter({ webCrypto: false }).addRecipient(2, wcPublic).encrypt(data);
    const plain = await new pqfile.Decrypter({ webCrypto: false }).addIdentity(2, wcSeed).decrypt(file);
    check(equalBytes(plain, data), 'file to a WebCrypto-generated key');
    out.seedCompatible = true;
  }

  // 4. Bad keys: the same error code on every path.
  const bad = publicKey.slice();
  bad[0] = 0xff;
  bad[1] = 0xff; // first coefficient 4095 >= q: fails the FIPS 203 modulus check
  for (const webCrypto of paths) {
    check((await code(pqfile.encapsulate(bad, { webCrypto }))) === 'invalid_public_key', `${webCrypto}: unreduced key accepted`);
    check((await code(pqfile.encapsulate(publicKey.subarray(1), { webCrypto }))) === 'invalid_public_key', `${webCrypto}: short key accepted`);
  }
  check((await code(new pqfile.Encrypter().addRecipient(1, bad).encrypt(data))) === 'invalid_public_key', 'Encrypter accepted an unreduced key');

  // 5. Encapsulation.fromParts zeroes the caller's copy of the shared secret.
  const ss = new Uint8Array(32).fill(7);
  const e = pqfile.Encapsulation.fromParts(new Uint8Array(1088), ss);
  e.free();
  check(ss.every((b) => b === 0), 'fromParts left the shared secret in the JS array');
  check((await code(Promise.resolve().then(() => pqfile.Encapsulation.fromParts(new Uint8Array(1087), new Uint8Array(32))))) === 'invalid_ciphertext', 'short ciphertext accepted');

  sk.free();
  out.paths = paths.length;
  return out;
}
