// A job: the chosen file (encrypt, or decrypt a .pqf), its run through the
// package's Encrypter/Decrypter TransformStream into a sink from
// lib/save.js, progress, cancel, and the result or error it ends with (and,
// for a file whose key is being retired, app/rewrap.js's offer).
// One AbortController cancels the pipe, the reader and the sink.

import { Decrypter, Encrypter, init } from '../lib/pqfile.js';
import { formatBytes, formatDuration } from '../lib/format.js';
import { describeError } from '../lib/messages.js';
import { Meter } from '../lib/meter.js';
import { chooseSaveMode, describeLargeFileMode, openSink, pickSaveFile, registerWorker } from '../lib/save.js';
import { $, announce, feedback, hideOutcome, showError } from './dom.js';
import { offerRewrap } from './rewrap.js';
import { keyServer, signOut } from './session.js';

const PQF_MAGIC = [0x50, 0x51, 0x46, 0x00];
const PAINT_EVERY_MS = 100;

const ui = {
  fileInput: /** @type {HTMLInputElement} */ ($('file-input')),
  job: $('job'),
  jobName: $('job-name'),
  jobDetail: $('job-detail'),
  jobClear: $('job-clear'),
  start: /** @type {HTMLButtonElement} */ ($('start')),
  cancel: /** @type {HTMLButtonElement} */ ($('cancel')),
  progressBox: $('progress-box'),
  progress: /** @type {HTMLProgressElement} */ ($('progress')),
  progressLabel: $('progress-label'),
  progressRate: $('progress-rate'),
  saveMode: $('save-mode'),
  tool: $('tool'),
  dropzone: $('dropzone'),
};

/** @typedef {'encrypt' | 'decrypt'} Mode */
/**
 * What the rest of the page does after a job (set by app.js): after a file
 * was encrypted (a new document exists), after a decrypted file was
 * rewrapped (its document's key changed).
 * @typedef {{ onEncrypted: () => void, onRewrapped: () => void }} Hooks
 */

/** @type {{ file: File, mode: Mode, outName: string } | null} */
let job = null;
/** @type {AbortController | null} */
let running = null;

/** Loads what a job needs before the first one: the wasm module and the save mode. */
export function prepareJobs() {
  // Load the wasm module now: the first encryption should not wait for it.
  init().catch(() => {});
  registerWorker().then(() => describeLargeFileMode()).then((text) => (ui.saveMode.textContent = text));
}

/** @param {File} file */
async function isPqf(file) {
  if (file.name.toLowerCase().endsWith('.pqf')) return true;
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  return head.length === 4 && PQF_MAGIC.every((b, i) => head[i] === b);
}

/** @param {string} name */
function originalName(name) {
  if (name.toLowerCase().endsWith('.pqf') && name.length > 4) return name.slice(0, -4);
  return `${name}.decrypted`;
}

/**
 * Makes `file` the job: encrypt it, or decrypt it if it is a .pqf.
 * @param {File} file
 */
async function chooseFile(file) {
  if (running) return;
  hideOutcome();
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

/** Forgets the chosen file. */
export function clearJob() {
  job = null;
  ui.job.hidden = true;
  ui.fileInput.value = '';
}

/** Stops the running job, if any (signing out). */
export function abortJob() {
  running?.abort();
}

/**
 * Wires choosing a file (the input, or a drop anywhere on the page), Start,
 * Cancel (or Escape) and "Choose another file".
 * @param {Hooks} hooks
 */
export function wireJob(hooks) {
  ui.fileInput.addEventListener('change', () => {
    const f = ui.fileInput.files?.[0];
    // Empty the input (the job keeps the File) so choosing the same file again,
    // e.g. after access was granted, fires `change` again.
    ui.fileInput.value = '';
    if (f) chooseFile(f);
  });
  ui.start.addEventListener('click', () => startJob(hooks));
  ui.cancel.addEventListener('click', () => {
    ui.cancel.disabled = true;
    ui.progressLabel.textContent = 'Cancelling…';
    running?.abort(new DOMException('Cancelled by the user.', 'AbortError'));
  });
  ui.jobClear.addEventListener('click', () => {
    clearJob();
    ui.fileInput.focus();
  });
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
}

/**
 * Runs the job to its end: a result, or an error (cancel included).
 * @param {Hooks} hooks
 */
async function startJob({ onEncrypted, onRewrapped }) {
  if (!job || running) return;
  performance.clearMarks();
  performance.clearMeasures();
  performance.mark('pqfile:click');
  const { file, mode, outName } = job;
  const ac = new AbortController();
  running = ac;
  /** @type {{ mode: Mode, fileName: string, sink?: string }} */
  const ctx = { mode, fileName: file.name, sink: undefined };

  const saveMode = await chooseSaveMode(file.size);
  let handle;
  if (saveMode === 'file-system') {
    try {
      handle = await pickSaveFile(outName);
    } catch (e) {
      running = null;
      if (/** @type {Error} */ (e)?.name === 'AbortError') {
        announce('Save cancelled.');
        return;
      }
      showError(describeError(e, ctx), signOut);
      return;
    }
  }

  hideOutcome();
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
  /** @param {number} bytes */
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

  const client = keyServer();
  const decrypter = mode === 'decrypt' ? new Decrypter({ onProgress }).useKeyServer(client) : null;
  const transform = decrypter
    ? decrypter.decryptStream()
    : new Encrypter({ onProgress }).useKeyServer(client).encryptStream();
  const reader = file.stream().pipeThrough(transform, { signal: ac.signal }).getReader();
  /** @type {Awaited<ReturnType<typeof openSink>> | null} */
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
    if (mode === 'encrypt') onEncrypted();
    // Only now, with the plaintext saved: the key that opened the file is being retired.
    if (decrypter?.keyState?.retiring) offerRewrap(file, decrypter.keyState, onRewrapped);
  } catch (e) {
    const err = ac.signal.aborted ? ac.signal.reason : e;
    reader.cancel(err).catch(() => {});
    await sink?.abort(err);
    if (!sink && handle) await handle.remove?.().catch(() => {});
    ui.progressBox.hidden = true;
    showError(describeError(err, ctx), signOut);
  } finally {
    running = null;
    ui.cancel.hidden = true;
    ui.start.hidden = false;
    ui.jobClear.hidden = false;
  }
}

/**
 * @param {Meter} meter
 * @param {Mode} mode
 */
function paintProgress(meter, mode) {
  const pct = Math.floor(meter.fraction * 100);
  ui.progress.value = pct;
  ui.progressLabel.textContent = `${mode === 'encrypt' ? 'Encrypting' : 'Decrypting'}… ${pct}% (${formatBytes(meter.bytes)} of ${formatBytes(meter.total)})`;
  const rate = meter.rate;
  const left = meter.secondsLeft;
  ui.progressRate.textContent = rate > 0 ? `${formatBytes(rate)}/s${meter.fraction < 1 && Number.isFinite(left) ? ` · ${formatDuration(left)} left` : ''}` : '';
}

/**
 * @param {{ file: File, mode: Mode, outName: string, written: number, meter: Meter, sink: string, url?: string }} done
 */
function showDone({ file, mode, outName, written, meter, sink, url }) {
  const { result } = feedback;
  const seconds = (performance.now() - meter.start) / 1000;
  const where = sink === 'file-system' ? 'Saved' : sink === 'service-worker' ? 'Downloading' : 'Downloaded';
  result.replaceChildren();
  const title = document.createElement('p');
  title.className = 'result-title';
  title.textContent = mode === 'encrypt' ? `Encrypted “${file.name}”.` : `Decrypted “${file.name}”.`;
  const detail = document.createElement('p');
  detail.textContent = `${where} as ${outName} (${formatBytes(written)}) in ${seconds < 1 ? `${Math.round(seconds * 1000)} ms` : formatDuration(seconds)}.`;
  result.append(title, detail);
  if (url) {
    const again = document.createElement('a');
    again.href = url;
    again.download = outName;
    again.textContent = `Save ${outName} again`;
    result.append(again);
  }
  result.dataset.state = 'done';
  result.dataset.sink = sink;
  result.hidden = false;
  ui.job.hidden = true;
  ui.fileInput.value = '';
  job = null;
  result.focus();
}
