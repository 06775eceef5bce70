// The session: the API token (sessionStorage, this tab only), signing in
// (pasted, or from the run command's `#token=` link) and out, and the
// key-server client every other part of the page calls through.

import { KeyServerClient } from '../lib/pqfile.js';
import { describeError } from '../lib/messages.js';
import { $, showError } from './dom.js';

const TOKEN_KEY = 'pqfile.token';

const ui = {
  session: $('session'),
  sessionLabel: $('session-label'),
  signOut: $('sign-out'),
  signin: $('signin'),
  signinForm: $('signin-form'),
  tokenInput: /** @type {HTMLInputElement} */ ($('token-input')),
  signinError: $('signin-error'),
  tool: $('tool'),
  fileInput: $('file-input'),
};

/** What the rest of the page does when the session starts or ends (set by app.js). */
const hooks = {
  /** After the tool is shown. */
  signedIn: () => {},
  /** Before the token is forgotten. */
  signingOut: () => {},
};

/** @param {Partial<typeof hooks>} h */
export function onSession(h) {
  Object.assign(hooks, h);
}

/** The stored token, or null when signed out. */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** A key-server client (this page's origin) with the current token. */
export function keyServer() {
  return new KeyServerClient(location.origin, token() ?? '');
}

/** Takes `#token=...` from the address (the run command's link), then hides it. */
function tokenFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const t = params.get('token');
  if (t === null) return null;
  params.delete('token');
  const rest = params.toString();
  history.replaceState(history.state, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
  return t.trim();
}

/**
 * Checks a token against the key server; the user's name when it says.
 * @param {string} t
 * @returns {Promise<{ verdict: 'ok' | 'invalid' | 'unreachable', name?: string, role?: string }>}
 */
async function probeToken(t) {
  try {
    const me = await new KeyServerClient(location.origin, t).me();
    return { verdict: 'ok', name: me.name, role: me.role };
  } catch (e) {
    const status = /** @type {{ status?: number }} */ (e).status;
    if (status === 401) return { verdict: 'invalid' };
    if (status === 0) return { verdict: 'unreachable' };
    return { verdict: 'ok' }; // 404 (an older key server without /v1/me) still proves the token
  }
}

/**
 * @param {string} t
 * @param {{ fromLink?: boolean }} [options]
 */
async function signIn(t, { fromLink = false } = {}) {
  if (!t) {
    showSignIn('Paste a token to sign in.');
    return;
  }
  const { verdict, name, role } = await probeToken(t);
  if (verdict === 'invalid') {
    showSignIn(fromLink ? 'The token in the link was not accepted: it is invalid or revoked. Paste a valid token.' : 'This token was not accepted: it is invalid or revoked.');
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, t);
  // Who is signed in, always in view: a link carrying someone else's token
  // must not go unnoticed.
  ui.sessionLabel.textContent = name ? `Signed in as ${name}${role === 'admin' ? ' (admin)' : ''}` : 'Signed in';
  showTool();
  if (verdict === 'unreachable') {
    showError(describeError({ name: 'KeyServerError', status: 0, code: 'server_unreachable' }, { mode: 'encrypt', fileName: '' }), signOut);
  }
}

/** Stops any job, forgets the token and shows the sign-in form. */
export function signOut() {
  hooks.signingOut();
  sessionStorage.removeItem(TOKEN_KEY);
  showSignIn('');
}

/** @param {string} message why the form is shown again ('' for none) */
function showSignIn(message) {
  ui.tool.hidden = true;
  ui.session.hidden = true;
  ui.signin.hidden = false;
  ui.signinError.textContent = message;
  ui.tokenInput.value = '';
  ui.tokenInput.setAttribute('aria-invalid', message ? 'true' : 'false');
  ui.tokenInput.focus();
}

function showTool() {
  ui.signin.hidden = true;
  ui.tool.hidden = false;
  ui.session.hidden = false;
  ui.signinError.textContent = '';
  ui.fileInput.focus();
  hooks.signedIn();
}

/** Wires the sign-in form and the sign-out button, then signs in: a token from the link wins over the stored one. */
export function startSession() {
  ui.signinForm.addEventListener('submit', (e) => {
    e.preventDefault();
    signIn(ui.tokenInput.value.trim());
  });
  ui.signOut.addEventListener('click', signOut);
  const linked = tokenFromFragment();
  const stored = token();
  if (linked !== null) signIn(linked, { fromLink: true });
  else if (stored) signIn(stored);
  else showSignIn('');
}
