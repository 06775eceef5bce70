// What every part of the page shares: element lookup, table cells, and the
// result / error / announcer regions below the job card (a job, the sign-in
// and the documents list all report there).

/**
 * The element with this id; the page's markup (index.html) has every id the
 * modules ask for, so a missing one is a bug, not a state to handle.
 * @template {HTMLElement} [T=HTMLElement]
 * @param {string} id
 * @returns {T}
 */
export function $(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return /** @type {T} */ (el);
}

/** The regions below the job card: a finished job, a failure, announcements. */
export const feedback = {
  result: $('result'),
  error: $('error'),
  announcer: $('announcer'),
};

/**
 * A new element with text and an optional class.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {string} text
 * @param {string} [className]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function cell(tag, text, className) {
  const el = document.createElement(tag);
  el.textContent = text;
  if (className) el.className = className;
  return el;
}

/**
 * A table head with one column header per name.
 * @param {string[]} names
 */
export function headRow(names) {
  const thead = document.createElement('thead');
  const tr = document.createElement('tr');
  for (const h of names) {
    const th = cell('th', h);
    th.scope = 'col';
    tr.append(th);
  }
  thead.append(tr);
  return thead;
}

/**
 * Hides a region and forgets what it showed.
 * @param {HTMLElement} el
 */
export function hide(el) {
  el.hidden = true;
  el.replaceChildren();
  delete el.dataset.code;
  delete el.dataset.state;
  delete el.dataset.sink;
}

/** Hides both the result and the error. */
export function hideOutcome() {
  hide(feedback.result);
  hide(feedback.error);
}

/**
 * Says `text` through the polite live region.
 * @param {string} text
 */
export function announce(text) {
  // Re-setting the same text would not be announced; clear first.
  feedback.announcer.textContent = '';
  requestAnimationFrame(() => (feedback.announcer.textContent = text));
}

/**
 * Shows a failure (lib/messages.js) in the alert region; `offerSignIn` failures
 * get a "Sign in again" button that runs `onSignInAgain`.
 * @param {import('../lib/messages.js').Message} message
 * @param {() => void} onSignInAgain
 */
export function showError({ code, title, detail, offerSignIn }, onSignInAgain) {
  const { error } = feedback;
  error.replaceChildren();
  const t = document.createElement('p');
  t.className = 'result-title';
  t.textContent = title;
  const d = document.createElement('p');
  d.textContent = detail;
  error.append(t, d);
  if (offerSignIn) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = 'Sign in again';
    b.addEventListener('click', onSignInAgain);
    error.append(b);
  }
  error.dataset.code = code;
  error.hidden = false;
  error.focus();
}
