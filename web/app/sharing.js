// A document's sharing panel: grant a user access by name, list who has
// access, withdraw it. Only the owner (or an admin) opens it.

import { formatTime } from '../lib/format.js';
import { cell } from './dom.js';
import { keyServer } from './session.js';

/** @typedef {import('../lib/pqfile.js').Grant} Grant */

/**
 * What a failed grant, listing or withdrawal means to the owner, by stable code.
 * @param {any} e
 * @param {string} user
 */
function sharingMessage(e, user) {
  if (e?.name !== 'KeyServerError') return `Something went wrong: ${e?.message ?? e}`;
  if (e.status === 0) return 'The key server cannot be reached. Check that it is running, then try again.';
  if (e.status === 401) return 'Your sign-in token was not accepted. Sign in again.';
  switch (e.code) {
    case 'user_not_found': return `There is no user named “${user}” on this key server. Check the spelling of the user name.`;
    case 'self_grant': return 'This is your own document: you need no grant to decrypt it.';
    case 'grant_not_found': return `“${user}” had no access to this document (any more).`;
    case 'forbidden': return 'Only the document’s owner (or an admin) can share it or withdraw access.';
    case 'document_not_found': return 'The key server no longer knows this document.';
    default:
      if (e.status >= 500) return 'The key server could not change the sharing right now. Try again in a minute.';
      return `The key server refused: ${e.message}`;
  }
}

/**
 * The panel's form: a user name input and Share, a status line and an alert.
 * @param {string} id the document id
 */
function shareForm(id) {
  const form = document.createElement('form');
  form.className = 'share-form';
  form.noValidate = true;
  const inputId = `share-user-${id}`;
  const hintId = `share-status-${id}`;
  const label = cell('label', 'Share with user');
  label.htmlFor = inputId;
  const row = document.createElement('div');
  row.className = 'row';
  const input = document.createElement('input');
  input.id = inputId;
  input.name = 'user';
  input.type = 'text';
  input.autocomplete = 'off';
  input.spellcheck = false;
  input.required = true;
  input.setAttribute('aria-describedby', hintId);
  const submit = cell('button', 'Share', 'primary');
  submit.type = 'submit';
  row.append(input, submit);
  // One polite status line for outcomes; refusals go to an alert.
  const status = cell('p', '', 'share-status');
  status.id = hintId;
  status.setAttribute('role', 'status');
  status.setAttribute('aria-live', 'polite');
  const alert = cell('p', '', 'field-error share-error');
  alert.setAttribute('role', 'alert');
  form.append(label, row, status, alert);
  return { form, input, submit, status, alert };
}

/**
 * Fills (or refills) the sharing panel of `doc`.
 * @param {HTMLElement} panel
 * @param {{ documentId: string }} doc
 */
export async function fillSharing(panel, doc) {
  const id = doc.documentId;
  const title = cell('h3', 'Sharing', 'panel-title');
  const intro = cell('p', 'People you share with can decrypt this document’s .pqf file with their own sign-in. Withdrawing takes that back for future decryptions.', 'muted');
  const { form, input, submit, status, alert } = shareForm(id);
  const listTitle = cell('h4', 'Who has access', 'panel-subtitle');
  const list = document.createElement('ul');
  list.className = 'grants';
  list.setAttribute('aria-label', 'People this document is shared with');
  panel.replaceChildren(title, intro, form, listTitle, list);

  /**
   * @param {string} text
   * @param {{ error?: boolean }} [options]
   */
  const say = (text, { error = false } = {}) => {
    status.textContent = error ? '' : text;
    alert.textContent = error ? text : '';
    input.setAttribute('aria-invalid', error ? 'true' : 'false');
    panel.dataset.outcome = error ? 'error' : 'ok';
  };

  /** @param {Grant[]} grants */
  const render = (grants) => {
    list.replaceChildren();
    if (grants.length === 0) {
      list.append(cell('li', 'Only you.', 'muted'));
      return;
    }
    for (const g of grants) {
      const li = document.createElement('li');
      li.dataset.user = g.user;
      li.append(cell('span', g.user, 'grant-user'), cell('span', ` since ${formatTime(g.grantedAt)}`, 'muted'));
      const withdraw = cell('button', 'Withdraw', 'link-button');
      withdraw.type = 'button';
      withdraw.setAttribute('aria-label', `Withdraw ${g.user}’s access`);
      withdraw.addEventListener('click', () => withdrawGrant(g.user, withdraw));
      li.append(' ', withdraw);
      list.append(li);
    }
  };

  const refresh = async () => {
    list.setAttribute('aria-busy', 'true');
    try {
      render(await keyServer().listGrants(id));
    } catch (e) {
      list.replaceChildren(cell('li', sharingMessage(e, ''), 'muted'));
    } finally {
      list.removeAttribute('aria-busy');
    }
  };

  /**
   * @param {string} user
   * @param {HTMLButtonElement} button
   */
  async function withdrawGrant(user, button) {
    button.disabled = true;
    try {
      await keyServer().revokeAccess(id, user);
      say(`${user} can no longer decrypt this document.`);
    } catch (e) {
      say(sharingMessage(e, user), { error: true });
    }
    await refresh();
    // The button is gone: keep focus in the panel, on the next withdraw button or the input.
    (list.querySelector('button') ?? input).focus();
  }

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const user = input.value.trim();
    if (!user) {
      say('Type the user name of the person to share with.', { error: true });
      input.focus();
      return;
    }
    submit.disabled = true;
    try {
      const g = await keyServer().grantAccess(id, user);
      say(`Shared with ${g?.user ?? user}. They can now decrypt this document.`);
      input.value = '';
      await refresh();
    } catch (e) {
      say(sharingMessage(e, user), { error: true });
    } finally {
      submit.disabled = false;
      input.focus();
    }
  });

  await refresh();
  input.focus();
}
