// A decrypted file whose key is being retired (the unwrap answer's
// `rotation_queued`, the Decrypter's `keyState.retiring`): once its
// plaintext is saved, the result says until when the dropped .pqf still
// decrypts and offers the same file moved to a current key, under the same
// name. The package's rewrapFile has the key server rewrap the header; the
// new file is a Blob of the new header and a slice of the dropped file after
// its old header, so nothing of the payload is read into the page. The
// dropped file itself is never changed.

import { rewrapFile } from '../lib/pqfile.js';
import { formatTime } from '../lib/format.js';
import { clickDownload } from '../lib/save.js';
import { describeError } from '../lib/messages.js';
import { announce, feedback, hide, showError } from './dom.js';
import { keyServer, signOut } from './session.js';

/** @type {string | null} */
let lastUrl = null;

/**
 * Downloads `blob` as `name` (the object URL lives until the next rewrap).
 * @param {Blob} blob
 * @param {string} name
 */
function download(blob, name) {
  if (lastUrl) URL.revokeObjectURL(lastUrl);
  lastUrl = URL.createObjectURL(blob);
  clickDownload(lastUrl, name);
}

/**
 * "on <time>" for an expiry, or a vaguer phrase when the server gave none.
 * @param {string | null} expiresAt
 * @returns {(string | HTMLElement)[]}
 */
function until(expiresAt) {
  if (!expiresAt) return ['soon'];
  const time = document.createElement('time');
  time.dateTime = expiresAt;
  time.textContent = formatTime(expiresAt);
  return ['on ', time];
}

/**
 * Adds the retiring key's notice and the "Save rewrapped" button to the
 * shown result of decrypting `file`.
 * @param {File} file the dropped .pqf, as it was decrypted
 * @param {import('../lib/pqfile.js').KeyState} keyState
 * @param {() => void} onRewrapped called once the key server moved the document to another key
 */
export function offerRewrap(file, keyState, onRewrapped) {
  const box = document.createElement('div');
  box.className = 'rewrap';
  box.id = 'rewrap';
  box.dataset.state = 'offered';
  box.dataset.keyId = String(keyState.keyId);
  const note = document.createElement('p');
  note.append(`The key of “${file.name}” is being retired: this file stops decrypting `, ...until(keyState.expiresAt),
    '. Save a copy moved to a current key, and keep it instead of this one.');
  const button = document.createElement('button');
  button.type = 'button';
  button.id = 'rewrap-save';
  button.textContent = `Save rewrapped ${file.name}`;
  const status = document.createElement('p');
  status.id = 'rewrap-status';
  box.append(note, button, status);
  feedback.result.append(box);

  /** The rewrapped file, once the key server made it: saving again does not ask again. @type {Blob | null} */
  let rewrapped = null;
  button.addEventListener('click', async () => {
    if (rewrapped) return download(rewrapped, file.name);
    button.disabled = true;
    hide(feedback.error);
    box.dataset.state = 'running';
    status.textContent = 'Asking the key server to rewrap the file…';
    try {
      const r = await rewrapFile(keyServer(), file);
      rewrapped = r.file;
      download(rewrapped, file.name);
      box.dataset.state = 'done';
      box.dataset.newKeyId = String(r.keyId);
      status.replaceChildren(`Saved ${file.name} moved from key ${r.replacedKeyId} to key ${r.keyId}. Replace your copy with it: the one you decrypted stops decrypting `,
        ...until(keyState.expiresAt), '.');
      button.textContent = `Save rewrapped ${file.name} again`;
      announce(`Saved the rewrapped ${file.name}.`);
      onRewrapped();
    } catch (e) {
      box.dataset.state = 'failed';
      status.textContent = 'The file was not rewrapped; the one you decrypted is unchanged.';
      showError(describeError(e, { mode: 'rewrap', fileName: file.name }), signOut);
    } finally {
      button.disabled = false;
    }
  });
}
