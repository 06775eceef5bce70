// Compiled with `tsc --noEmit` by types.test.js: the published types must
// describe the API as the README uses it.
import {
  Decrypter,
  Encrypter,
  ErrorCode,
  Header,
  KeyServerClient,
  KeyServerError,
  MlKem768SecretKey,
  PqfileError,
  errorCodeOf,
  init,
  rewrapFile,
  type ErrorCodeValue,
  type KeyService,
  type KeyState,
  type RewrapAnswer,
  type RewrappedFile,
} from 'pqfile';

export async function roundTrip(file: Blob, token: string): Promise<Uint8Array> {
  await init();
  const keys: KeyService = new KeyServerClient('https://keys.example.com', token);
  const enc = new Encrypter({ webCrypto: 'auto', concurrency: 8, onProgress: (n: number) => void n }).useKeyServer(keys);
  const encrypted: ReadableStream<Uint8Array> = file.stream().pipeThrough(enc.encryptStream());
  const id: string | undefined = enc.documentId;
  void id;
  const stream: ReadableStream<Uint8Array> = await new Decrypter().useKeyServer(keys).decrypt(encrypted);
  void stream;
  const sk = MlKem768SecretKey.generate();
  const pk: Uint8Array = sk.publicKey().toBytes();
  sk.free();
  const bytes: Uint8Array = await new Encrypter().addRecipient(1, pk).setDocumentId('ab'.repeat(16)).encrypt(new Uint8Array(3));
  const header = Header.parse(bytes);
  const keyIds: number[] = header.stanzas.map((s) => s.keyId);
  void keyIds;
  try {
    return await new Decrypter().addIdentity(1, new Uint8Array(64)).decrypt(bytes);
  } catch (e) {
    if (e instanceof PqfileError && e.code === ErrorCode.DecryptionFailed) throw e;
    if (e instanceof KeyServerError && e.status === 401) throw e;
    const code: ErrorCodeValue | undefined = errorCodeOf(e);
    throw new Error(code);
  }
}

export async function moveIfRetiring(file: File, keys: KeyServerClient): Promise<Blob | undefined> {
  const dec = new Decrypter().useKeyServer(keys);
  const plain: ReadableStream<Uint8Array> = await dec.decrypt(file.stream());
  void plain;
  const state: KeyState | undefined = dec.keyState;
  if (!state?.retiring) return undefined;
  const expires: string | null = state.expiresAt;
  void expires;
  const moved: RewrappedFile<Blob> = await rewrapFile(keys, file);
  const bytes: Uint8Array = (await rewrapFile(keys, new Uint8Array(3))).file;
  const stream: ReadableStream<Uint8Array> = (await rewrapFile(keys, file.stream())).file;
  void bytes;
  void stream;
  const answer: RewrapAnswer = await keys.rewrap(moved.documentId, moved.header);
  const replaced: number = answer.replacedKeyId;
  void replaced;
  return moved.file;
}
