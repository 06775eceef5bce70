// The session: the API token (sessionStorage, this tab only), signing in
// (pasted, or from the run command's `#token=` link) and out, and the
// key-server client every other part of the page calls through.
//
// A `#token=` link never silently replaces a session: a link for another
// user (by the ids GET /v1/me gives for both tokens) is only a question,
// "Switch to B" or "Stay signed in as A", and only the click switches; a
// link whose token is refused or cannot be checked leaves the session as it
// is and says so. Until then the link's token lives in this module's memory
// only, never in storage, the address or a log. A link for the signed-in
// user with a new token switches without asking (same account, nothing to
// confuse; the link is the newer token, which the user just opened).

import { KeyServerClient } from '../lib/pqfile.js';
import { describeError, linkTokenRefused } from '../lib/messages.js';
import { $, announce, showError } from './dom.js';

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
  linkSwitch: $('link-switch'),
  linkSwitchDetail: $('link-switch-detail'),
  linkSwitchWarning: $('link-switch-warning'),
  linkSwitchGo: $('link-switch-go'),
  linkSwitchStay: $('link-switch-stay'),
  linkNotice: $('link-notice'),
  linkNoticeTitle: $('link-notice-title'),
  linkNoticeDetail: $('link-notice-detail'),
  linkNoticeDismiss: $('link-notice-dismiss'),
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
 * @typedef {{ verdict: 'ok' | 'invalid' | 'unreachable', id?: number, name?: string, role?: string }} Probe
 * What the key server says of a token: whose it is (GET /v1/me), refused, or no answer.
 */

/**
 * Checks a token against the key server; the user when it says.
 * @param {string} t
 * @returns {Promise<Probe>}
 */
async function probeToken(t) {
  try {
    const me = await new KeyServerClient(location.origin, t).me();
    return { verdict: 'ok', id: me.id, name: me.name, role: me.role };
  } catch (e) {
    const status = /** @type {{ status?: number }} */ (e).status;
    if (status === 401) return { verdict: 'invalid' };
    if (status === 0) return { verdict: 'unreachable' };
    return { verdict: 'ok' }; // 404 (an older key server without /v1/me) still proves the token
  }
}

/**
 * Whether two probes name the same user. Unknown ids (an older key server)
 * are never the same: the page cannot tell, so it asks.
 * @param {Probe} a
 * @param {Probe} b
 */
function sameUser(a, b) {
  return Number.isFinite(a.id) && a.id === b.id;
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
  const probe = await probeToken(t);
  if (probe.verdict === 'invalid') {
    showSignIn(fromLink ? 'The token in the link was not accepted: it is invalid or revoked. Paste a valid token.' : 'This token was not accepted: it is invalid or revoked.');
    return;
  }
  enter(t, probe);
}

/**
 * Makes `t` the session's token and shows the tool, naming its user.
 * @param {string} t
 * @param {Probe} probe what the key server said of `t`
 */
function enter(t, { verdict, name, role }) {
  sessionStorage.setItem(TOKEN_KEY, t);
  // Who is signed in, always in view: a link carrying someone else's token
  // must not go unnoticed.
  ui.sessionLabel.textContent = name ? `Signed in as ${name}${role === 'admin' ? ' (admin)' : ''}` : 'Signed in';
  showTool();
  if (verdict === 'unreachable') {
    showError(describeError({ name: 'KeyServerError', status: 0, code: 'server_unreachable' }, { mode: 'encrypt', fileName: '' }), signOut);
  }
}

/**
 * The link's token and its user while the page asks whether to switch to it;
 * in memory only, and forgotten as soon as the question is answered.
 * @type {{ token: string, probe: Probe } | null}
 */
let pendingLink = null;

/** Forgets any pending link and hides the question and the notice about one. */
function clearLink() {
  pendingLink = null;
  ui.linkSwitch.hidden = true;
  ui.linkNotice.hidden = true;
}

/**
 * Opens a `#token=` link: signs in with it when there is no session (or its
 * token is no longer accepted), switches silently for the same user, asks
 * for another user, and keeps the session when the link's token is refused.
 * @param {string} linked the link's token (already removed from the address)
 */
async function openLink(linked) {
  clearLink();
  const stored = token();
  if (!stored || stored === linked) {
    await signIn(linked, { fromLink: true });
    return;
  }
  const [link, current] = await Promise.all([probeToken(linked), probeToken(stored)]);
  if (token() !== stored) return; // signed out or in otherwise meanwhile: the link is dropped
  if (current.verdict === 'invalid') {
    // The stored session is over anyway: the link signs in as with no session.
    if (link.verdict === 'invalid') showSignIn('The token in the link was not accepted: it is invalid or revoked. Paste a valid token.');
    else enter(linked, link);
    return;
  }
  if (link.verdict !== 'ok') {
    if (ui.tool.hidden) enter(stored, current);
    showLinkNotice(linkTokenRefused(link.verdict, current.name));
    return;
  }
  if (sameUser(link, current)) {
    enter(linked, link);
    return;
  }
  if (ui.tool.hidden) enter(stored, current);
  askSwitch(linked, link, current);
}

/**
 * The question: switch to the link's user, or stay. The safe answer has the focus.
 * @param {string} linked
 * @param {Probe} link
 * @param {Probe} current
 */
function askSwitch(linked, link, current) {
  pendingLink = { token: linked, probe: link };
  const them = link.name ?? 'another account';
  const now = current.name ?? 'your current account';
  ui.linkSwitchDetail.textContent = `This link signs you in as ${them}. You are signed in as ${now}.`;
  ui.linkSwitchWarning.textContent = `Files you encrypt after switching belong to ${link.name ? `${link.name}’s account` : 'that account'}. Switch only if you meant to use it; if you did not expect this link, stay.`;
  ui.linkSwitchGo.textContent = link.name ? `Switch to ${link.name}` : 'Switch accounts';
  ui.linkSwitchStay.textContent = current.name ? `Stay signed in as ${current.name}` : 'Stay signed in';
  ui.linkSwitch.hidden = false;
  ui.linkSwitchStay.focus();
}

/** "Switch": ends the current session's work, then signs in with the link's token. */
function switchToLink() {
  const pending = pendingLink;
  clearLink();
  if (!pending) return;
  hooks.signingOut();
  enter(pending.token, pending.probe);
  announce(ui.sessionLabel.textContent ?? '');
}

/** "Stay": the link's token is dropped, never stored. */
function stay() {
  clearLink();
  ui.fileInput.focus();
  announce(`${ui.sessionLabel.textContent}. The link was not used.`);
}

/** @param {{ title: string, detail: string }} message */
function showLinkNotice({ title, detail }) {
  ui.linkNoticeTitle.textContent = title;
  ui.linkNoticeDetail.textContent = detail;
  ui.linkNotice.hidden = false;
  ui.linkNotice.focus();
}

/** Stops any job, forgets the token and shows the sign-in form. */
export function signOut() {
  hooks.signingOut();
  sessionStorage.removeItem(TOKEN_KEY);
  showSignIn('');
}

/** @param {string} message why the form is shown again ('' for none) */
function showSignIn(message) {
  clearLink();
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

/**
 * Wires the sign-in form, the sign-out button and the link question, then
 * signs in: with the stored token, or through the link (openLink) when the
 * address has one. A link opened later in this tab (a fragment change, no
 * reload) is taken the same way.
 */
export function startSession() {
  ui.signinForm.addEventListener('submit', (e) => {
    e.preventDefault();
    clearLink();
    signIn(ui.tokenInput.value.trim());
  });
  ui.signOut.addEventListener('click', signOut);
  ui.linkSwitchGo.addEventListener('click', switchToLink);
  ui.linkSwitchStay.addEventListener('click', stay);
  ui.linkNoticeDismiss.addEventListener('click', () => {
    ui.linkNotice.hidden = true;
    ui.fileInput.focus();
  });
  window.addEventListener('hashchange', () => {
    const linked = tokenFromFragment();
    if (linked !== null) openLink(linked);
  });
  const linked = tokenFromFragment();
  const stored = token();
  if (linked !== null) openLink(linked);
  else if (stored) signIn(stored);
  else showSignIn('');
}
