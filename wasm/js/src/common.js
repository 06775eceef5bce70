// Everything every entry point exports besides the raw bindings.
export { Encrypter, Decrypter, init, encapsulate, hasWebCrypto, hasWebCryptoKem, chunkNonce } from './api.js';
export { KeyServerClient, toBase64, fromBase64 } from './keyserver.js';
export { rewrapFile } from './rewrap.js';
export { PqfileError, KeyServerError, ErrorCode, ClientErrorCode } from './errors.js';
