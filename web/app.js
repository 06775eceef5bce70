// The pqfile page: sign in with a token, then encrypt any file to NAME.pqf
// or decrypt a .pqf back, entirely in this page. Only the key-server calls
// (a new document and its public key; the unwrap of one stanza sealed to an
// ephemeral key, FORMAT.md §7) leave the page; file contents never do.
//
// Pipeline: File.stream() -> Encrypter/Decrypter TransformStream (WebCrypto
// AES-GCM, 16 KiB chunks, bounded in-flight work) -> a sink from lib/save.js.
// One AbortController cancels the pipe, the reader and the sink.

import { Decrypter, Encrypter, KeyServerClient, init } from './vendor/pqfile/src/browser.js';
import { accessHistory, grantAccess, listDocuments, listGrants, revokeAccess } from './lib/api.js';
import { formatBytes, formatDuration, formatTime } from './lib/format.js';
import { describeError } from './lib/messages.js';
import { Meter } from './lib/meter.js';
import { chooseSaveMode, describeLargeFileMode, openSink, pickSaveFile, registerWorker } from './lib/save.js';

const TOKEN_KEY = 'pqfile.token';
const PQF_MAGIC = [0x50, 0x51, 0x46, 0x00];
const PAINT_EVERY_MS = 100;

const $ = (id) => document.getElementById(id);
const ui = {
  session: $('session'),
  signOut: $('sign-out'),
  signin: $('signin'),
  signinForm: $('signin-form'),
  tokenInput: $('token-input'),
  signinError: $('signin-error'),
  tool: $('tool'),
  dropzone: $('dropzone'),
  fileInput: $('file-input'),
  job: $('job'),
  jobName: $('job-name'),
  jobDetail: $('job-detail'),
  jobClear: $('job-clear'),
  start: $('start'),
  cancel: $('cancel'),
  progressBox: $('progress-box'),
  progress: $('progress'),
  progressLabel: $('progress-label'),
  progressRate: $('progress-rate'),
  result: $('result'),
  error: $('error'),
  announcer: $('announcer'),
  documentsBody: $('documents-body'),
  documentsRefresh: $('documents-refresh'),
  saveMode: $('save-mode'),
};

/** @type {{ file: File, mode: 'encrypt' | 'decrypt', outName: string } | null} */
let job = null;
/** @type {AbortController | null} */
let running = null;

// ---------------------------------------------------------------- session

function token() {
  return sessionStorage.getItem(TOKEN_KEY);
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

/** Checks a token against the key server: 'ok', 'invalid' or 'unreachable'. */
async function probeToken(t) {
  try {
    await listDocuments(t);
    return 'ok';
  } catch (e) {
    if (e.status === 401) return 'invalid';
    if (e.status === 0) return 'unreachable';
    return 'ok'; // 404 (no listing endpoint yet) still proves the token
  }
}

async function signIn(t, { fromLink = false } = {}) {
  if (!t) {
    showSignIn('Paste a token to sign in.');
    return;
  }
  const verdict = await probeToken(t);
  if (verdict === 'invalid') {
    showSignIn(fromLink ? 'The token in the link was not accepted: it is invalid or revoked. Paste a valid token.' : 'This token was not accepted: it is invalid or revoked.');
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, t);
  showTool();
  if (verdict === 'unreachable') {
    showError(describeError({ name: 'KeyServerError', status: 0, code: 'network_error' }, { mode: 'encrypt', fileName: '' }));
  }
}

function signOut() {
  running?.abort();
  sessionStorage.removeItem(TOKEN_KEY);
  clearJob();
  hide(ui.result);
  hide(ui.error);
  showSignIn('');
}

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
  // Load the wasm module now: the first encryption should not wait for it.
  init().catch(() => {});
  registerWorker().then(() => describeLargeFileMode()).then((text) => (ui.saveMode.textContent = text));
  loadDocuments();
}

// ---------------------------------------------------------------- choosing a file

async function isPqf(file) {
  if (file.name.toLowerCase().endsWith('.pqf')) return true;
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  return head.length === 4 && PQF_MAGIC.every((b, i) => head[i] === b);
}

function originalName(name) {
  if (name.toLowerCase().endsWith('.pqf') && name.length > 4) return name.slice(0, -4);
  return `${name}.decrypted`;
}

async function chooseFile(file) {
  if (running) return;
  hide(ui.result);
  hide(ui.error);
  const mode = (await isPqf(file)) ? 'decrypt' : 'encrypt';
  const outName = mode === 'encrypt' ? `${file.name}.pqf` : originalName(file.name);
  job = { file, mode, outName };
  ui.jobName.textContent = file.name;
  ui.jobDetail.textContent = `${formatBytes(file.size)} · ${mode === 'encrypt' ? 'will be encrypted to' : 'will be decrypted to'} ${outName}`;
  ui.start.textContent = mode === 'encrypt' ? 'Encrypt' : 'Decrypt';
  ui.start.dataset.mode = mode;
  ui.start.disabled = false;
  ui.job.hidden = false;
  ui.progressBox.hidden = true;
  ui.cancel.hidden = true;
  ui.start.hidden = false;
  ui.jobClear.hidden = false;
  ui.start.focus();
}

function clearJob() {
  job = null;
  ui.job.hidden = true;
  ui.fileInput.value = '';
}

// ---------------------------------------------------------------- running a job

async function startJob() {
  if (!job || running) return;
  performance.clearMarks();
  performance.clearMeasures();
  performance.mark('pqfile:click');
  const { file, mode, outName } = job;
  const ac = new AbortController();
  running = ac;
  const ctx = { mode, fileName: file.name, sink: undefined };

  const saveMode = await chooseSaveMode(file.size);
  let handle;
  if (saveMode === 'file-system') {
    try {
      handle = await pickSaveFile(outName);
    } catch (e) {
      running = null;
      if (e?.name === 'AbortError') {
        announce('Save cancelled.');
        return;
      }
      showError(describeError(e, ctx));
      return;
    }
  }

  hide(ui.result);
  hide(ui.error);
  ui.start.hidden = true;
  ui.jobClear.hidden = true;
  ui.cancel.hidden = false;
  ui.cancel.disabled = false;
  ui.cancel.focus();
  ui.progressBox.hidden = false;
  ui.progress.value = 0;
  ui.progressLabel.textContent = mode === 'encrypt' ? 'Getting a key from the key server…' : 'Asking the key server to unwrap the file key…';
  ui.progressRate.textContent = '';
  announce(mode === 'encrypt' ? `Encrypting ${file.name}.` : `Decrypting ${file.name}.`);

  const meter = new Meter(file.size);
  let lastPaint = 0;
  let lastQuarter = 0;
  const onProgress = (bytes) => {
    meter.update(bytes);
    const now = performance.now();
    if (now - lastPaint < PAINT_EVERY_MS) return;
    lastPaint = now;
    paintProgress(meter, mode);
    const quarter = Math.floor(meter.fraction * 4);
    if (quarter > lastQuarter && quarter < 4) {
      lastQuarter = quarter;
      announce(`${quarter * 25} percent done.`);
    }
  };

  const client = new KeyServerClient(location.origin, token());
  const transform = mode === 'encrypt'
    ? new Encrypter({ onProgress }).useKeyServer(client).encryptStream()
    : new Decrypter({ onProgress }).useKeyServer(client).decryptStream();
  const reader = file.stream().pipeThrough(transform, { signal: ac.signal }).getReader();
  let sink = null;
  let written = 0;
  try {
    let r = await reader.read();
    performance.mark('pqfile:first-byte');
    performance.measure('pqfile:time-to-first-byte', 'pqfile:click', 'pqfile:first-byte');
    sink = await openSink(saveMode, outName, { handle, signal: ac.signal });
    ctx.sink = sink.mode;
    while (!r.done) {
      ac.signal.throwIfAborted();
      written += r.value.byteLength;
      await sink.write(r.value);
      r = await reader.read();
    }
    ac.signal.throwIfAborted();
    ui.cancel.disabled = true;
    const saved = await sink.close();
    performance.mark('pqfile:done');
    performance.measure('pqfile:job', 'pqfile:click', 'pqfile:done');
    meter.update(file.size);
    paintProgress(meter, mode);
    showDone({ file, mode, outName, written, meter, sink: sink.mode, url: saved?.url });
    if (mode === 'encrypt') loadDocuments();
  } catch (e) {
    const err = ac.signal.aborted ? ac.signal.reason : e;
    reader.cancel(err).catch(() => {});
    await sink?.abort(err);
    if (!sink && handle) await handle.remove?.().catch(() => {});
    ui.progressBox.hidden = true;
    const message = describeError(err, ctx);
    showError(message);
  } finally {
    running = null;
    ui.cancel.hidden = true;
    ui.start.hidden = false;
    ui.jobClear.hidden = false;
  }
}

function paintProgress(meter, mode) {
  const pct = Math.floor(meter.fraction * 100);
  ui.progress.value = pct;
  ui.progressLabel.textContent = `${mode === 'encrypt' ? 'Encrypting' : 'Decrypting'}… ${pct}% (${formatBytes(meter.bytes)} of ${formatBytes(meter.total)})`;
  const rate = meter.rate;
  const left = meter.secondsLeft;
  ui.progressRate.textContent = rate > 0 ? `${formatBytes(rate)}/s${meter.fraction < 1 && Number.isFinite(left) ? ` · ${formatDuration(left)} left` : ''}` : '';
}

function showDone({ file, mode, outName, written, meter, sink, url }) {
  const seconds = (performance.now() - meter.start) / 1000;
  const where = sink === 'file-system' ? 'Saved' : sink === 'service-worker' ? 'Downloading' : 'Downloaded';
  ui.result.replaceChildren();
  const title = document.createElement('p');
  title.className = 'result-title';
  title.textContent = mode === 'encrypt' ? `Encrypted “${file.name}”.` : `Decrypted “${file.name}”.`;
  const detail = document.createElement('p');
  detail.textContent = `${where} as ${outName} (${formatBytes(written)}) in ${seconds < 1 ? `${Math.round(seconds * 1000)} ms` : formatDuration(seconds)}.`;
  ui.result.append(title, detail);
  if (url) {
    const again = document.createElement('a');
    again.href = url;
    again.download = outName;
    again.textContent = `Save ${outName} again`;
    ui.result.append(again);
  }
  ui.result.dataset.state = 'done';
  ui.result.dataset.sink = sink;
  ui.result.hidden = false;
  ui.job.hidden = true;
  ui.fileInput.value = '';
  job = null;
  ui.result.focus();
}

function showError({ code, title, detail, signIn: needsSignIn }) {
  ui.error.replaceChildren();
  const t = document.createElement('p');
  t.className = 'result-title';
  t.textContent = title;
  const d = document.createElement('p');
  d.textContent = detail;
  ui.error.append(t, d);
  if (needsSignIn) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = 'Sign in again';
    b.addEventListener('click', signOut);
    ui.error.append(b);
  }
  ui.error.dataset.code = code;
  ui.error.hidden = false;
  ui.error.focus();
}

function hide(el) {
  el.hidden = true;
  el.replaceChildren();
  delete el.dataset.code;
  delete el.dataset.state;
  delete el.dataset.sink;
}

function announce(text) {
  // Re-setting the same text would not be announced; clear first.
  ui.announcer.textContent = '';
  requestAnimationFrame(() => (ui.announcer.textContent = text));
}

// ---------------------------------------------------------------- my documents

async function loadDocuments() {
  const t = token();
  if (!t) return;
  ui.documentsBody.setAttribute('aria-busy', 'true');
  try {
    const docs = await listDocuments(t);
    renderDocuments(docs);
  } catch (e) {
    const p = document.createElement('p');
    p.className = 'muted';
    if (e.status === 404 || e.status === 405) {
      p.textContent = 'The document list is not available on this key server yet.';
      ui.documentsBody.dataset.state = 'unavailable';
    } else {
      p.textContent = describeError(e, { mode: 'encrypt', fileName: '' }).title;
      ui.documentsBody.dataset.state = 'error';
    }
    ui.documentsBody.replaceChildren(p);
  } finally {
    ui.documentsBody.removeAttribute('aria-busy');
  }
}

function cell(tag, text, className) {
  const el = document.createElement(tag);
  el.textContent = text;
  if (className) el.className = className;
  return el;
}

function headRow(names) {
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

const DOC_COLUMNS = ['Document', 'Created', 'Key', 'Owner', 'Stored copy', ''];

function renderDocuments(docs) {
  ui.documentsBody.dataset.state = 'list';
  if (docs.length === 0) {
    ui.documentsBody.replaceChildren(cell('p', 'No documents yet. Encrypt a file and it appears here.', 'muted'));
    return;
  }
  const owned = docs.filter((d) => !d.shared).length;
  const shared = docs.length - owned;
  const table = document.createElement('table');
  table.className = 'documents';
  const caption = cell('caption', `${owned} document${owned === 1 ? '' : 's'} of yours${shared ? `, ${shared} shared with you` : ''}`, 'muted caption');
  const body = document.createElement('tbody');
  for (const doc of docs) {
    const tr = document.createElement('tr');
    tr.dataset.documentId = doc.document_id;
    tr.dataset.shared = String(Boolean(doc.shared));
    const ownerCell = document.createElement('td');
    if (doc.shared) {
      ownerCell.append(cell('span', String(doc.owner ?? '')), ' ', cell('span', 'shared with you', 'badge'));
    } else {
      ownerCell.append(cell('span', 'you', 'muted'));
    }
    tr.append(
      cell('td', doc.document_id, 'mono'),
      cell('td', formatTime(doc.created_at)),
      cell('td', String(doc.key_id ?? '')),
      ownerCell,
      cell('td', doc.has_content ? 'on the server' : 'none', doc.has_content ? '' : 'muted'),
    );
    const actions = document.createElement('td');
    actions.className = 'doc-actions';
    const detailRow = document.createElement('tr');
    detailRow.hidden = true;
    detailRow.className = 'detail-row';
    const detailCell = document.createElement('td');
    detailCell.colSpan = DOC_COLUMNS.length;
    detailRow.append(detailCell);
    if (doc.shared) {
      // Only the owner (or an admin) sees a document's history and grants.
      actions.append(cell('span', '—', 'muted'));
    } else {
      const panels = [
        { label: 'Access history', kind: 'history', fill: fillHistory },
        { label: 'Sharing', kind: 'sharing', fill: fillSharing },
      ];
      for (const p of panels) {
        const button = cell('button', p.label, 'link-button');
        button.type = 'button';
        button.dataset.panel = p.kind;
        button.setAttribute('aria-expanded', 'false');
        const panel = document.createElement('div');
        panel.className = `panel panel-${p.kind}`;
        panel.id = `${p.kind}-${doc.document_id}`;
        panel.hidden = true;
        panel.setAttribute('role', 'region');
        panel.setAttribute('aria-label', `${p.label} of document ${doc.document_id.slice(0, 8)}`);
        button.setAttribute('aria-controls', panel.id);
        button.addEventListener('click', () => togglePanel(button, panel, detailRow, () => p.fill(panel, doc)));
        detailCell.append(panel);
        actions.append(button);
      }
    }
    tr.append(actions);
    body.append(tr, detailRow);
  }
  table.append(caption, headRow(DOC_COLUMNS), body);
  ui.documentsBody.replaceChildren(table);
}

async function togglePanel(button, panel, row, fill) {
  const open = button.getAttribute('aria-expanded') === 'true';
  button.setAttribute('aria-expanded', String(!open));
  panel.hidden = open;
  row.hidden = [...row.querySelectorAll('.panel')].every((p) => p.hidden);
  if (!open) await fill();
}

function panelError(e, what) {
  if (e.status === 403) return `Only the document’s owner can see its ${what}.`;
  if (e.status === 404 && e.code !== 'document_not_found') return `The ${what} is not available on this key server.`;
  return describeError(e, { mode: 'encrypt', fileName: '' }).title;
}

const HISTORY_COLUMNS = ['Time', 'Type', 'User', 'IP address', 'User agent', 'Outcome'];

/** The user agent, clamped to two lines on screen; the whole string is in the cell and its tooltip. */
function agentCell(agent) {
  const td = document.createElement('td');
  td.className = 'agent';
  const span = cell('span', agent ?? '');
  if (agent) span.title = agent;
  td.append(span);
  return td;
}

async function fillHistory(panel, doc) {
  panel.replaceChildren(cell('p', 'Loading access history…', 'muted'));
  panel.setAttribute('aria-busy', 'true');
  try {
    const entries = await accessHistory(token(), doc.document_id);
    const title = cell('h3', 'Access history', 'panel-title');
    if (entries.length === 0) {
      panel.replaceChildren(title, cell('p', 'No access recorded.', 'muted'));
      return;
    }
    const table = document.createElement('table');
    table.className = 'history';
    table.append(cell('caption', `${entries.length} access${entries.length === 1 ? '' : 'es'}, newest first`, 'visually-hidden'), headRow(HISTORY_COLUMNS));
    const body = document.createElement('tbody');
    for (const e of entries) {
      const tr = document.createElement('tr');
      tr.dataset.accessType = e.access_type ?? '';
      tr.dataset.outcome = e.outcome ?? '';
      const outcome = e.outcome === 'refused' ? `refused${e.reason ? ` (${e.reason.replaceAll('_', ' ')})` : ''}` : (e.outcome ?? '');
      tr.append(
        cell('td', formatTime(e.timestamp)),
        cell('td', e.access_type ?? ''),
        cell('td', e.user ?? 'unknown user'),
        cell('td', e.ip_address ?? '', 'mono'),
        agentCell(e.user_agent),
        cell('td', outcome, e.outcome === 'refused' ? 'refused' : 'allowed'),
      );
      body.append(tr);
    }
    table.append(body);
    panel.replaceChildren(title, table);
  } catch (e) {
    panel.replaceChildren(cell('p', panelError(e, 'access history'), 'muted'));
  } finally {
    panel.removeAttribute('aria-busy');
  }
}

// ---------------------------------------------------------------- sharing

/** What a failed grant, listing or withdrawal means to the owner, by stable code. */
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

async function fillSharing(panel, doc) {
  const id = doc.document_id;
  const title = cell('h3', 'Sharing', 'panel-title');
  const intro = cell('p', 'People you share with can decrypt this document’s .pqf file with their own sign-in. Withdrawing takes that back for future decryptions.', 'muted');
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
  const listTitle = cell('h4', 'Who has access', 'panel-subtitle');
  const list = document.createElement('ul');
  list.className = 'grants';
  list.setAttribute('aria-label', 'People this document is shared with');
  panel.replaceChildren(title, intro, form, listTitle, list);

  const say = (text, { error = false } = {}) => {
    status.textContent = error ? '' : text;
    alert.textContent = error ? text : '';
    input.setAttribute('aria-invalid', error ? 'true' : 'false');
    panel.dataset.outcome = error ? 'error' : 'ok';
  };

  const render = (grants) => {
    list.replaceChildren();
    if (grants.length === 0) {
      list.append(cell('li', 'Only you.', 'muted'));
      return;
    }
    for (const g of grants) {
      const li = document.createElement('li');
      li.dataset.user = g.user;
      li.append(cell('span', g.user, 'grant-user'), cell('span', ` since ${formatTime(g.granted_at)}`, 'muted'));
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
      render(await listGrants(token(), id));
    } catch (e) {
      list.replaceChildren(cell('li', sharingMessage(e, ''), 'muted'));
    } finally {
      list.removeAttribute('aria-busy');
    }
  };

  async function withdrawGrant(user, button) {
    button.disabled = true;
    try {
      await revokeAccess(token(), id, user);
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
      const g = await grantAccess(token(), id, user);
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

// ---------------------------------------------------------------- wiring

ui.signinForm.addEventListener('submit', (e) => {
  e.preventDefault();
  signIn(ui.tokenInput.value.trim());
});
ui.signOut.addEventListener('click', signOut);
ui.fileInput.addEventListener('change', () => {
  const f = ui.fileInput.files?.[0];
  // Empty the input (the job keeps the File) so choosing the same file again,
  // e.g. after access was granted, fires `change` again.
  ui.fileInput.value = '';
  if (f) chooseFile(f);
});
ui.start.addEventListener('click', startJob);
ui.cancel.addEventListener('click', () => {
  ui.cancel.disabled = true;
  ui.progressLabel.textContent = 'Cancelling…';
  running?.abort(new DOMException('Cancelled by the user.', 'AbortError'));
});
ui.jobClear.addEventListener('click', () => {
  clearJob();
  ui.fileInput.focus();
});
ui.documentsRefresh.addEventListener('click', loadDocuments);
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && running) ui.cancel.click();
});

// Drop anywhere on the page; the drop zone lights up.
let dragDepth = 0;
document.addEventListener('dragenter', (e) => {
  if (ui.tool.hidden || !e.dataTransfer?.types.includes('Files')) return;
  dragDepth++;
  ui.dropzone.classList.add('dragging');
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (dragDepth === 0) ui.dropzone.classList.remove('dragging');
});
document.addEventListener('dragover', (e) => {
  if (ui.tool.hidden) return;
  e.preventDefault();
  if (e.dataTransfer) e.dataTransfer.dropEffect = running ? 'none' : 'copy';
});
document.addEventListener('drop', (e) => {
  e.preventDefault();
  dragDepth = 0;
  ui.dropzone.classList.remove('dragging');
  if (ui.tool.hidden) return;
  const f = e.dataTransfer?.files?.[0];
  if (f) chooseFile(f);
});

// Start: a token from the link wins over the stored one.
const linked = tokenFromFragment();
if (linked !== null) signIn(linked, { fromLink: true });
else if (token()) signIn(token());
else showSignIn('');
