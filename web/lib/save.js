// Where a result goes. Three sinks with one interface
// (`write(chunk)`, `close()`, `abort(reason)`), chosen by `chooseSaveMode`:
//
// - file-system: the File System Access API (`showSaveFilePicker`, Chromium
//   desktop). Bytes go straight to the chosen file; an aborted write leaves
//   nothing (the browser writes to a swap file until `close()`).
// - service-worker: a streaming download. sw.js answers a navigation to
//   `__pqfile/download/<id>/<name>` with a ReadableStream fed from this page
//   over a MessageChannel, pulled chunk batch by chunk batch (backpressure).
// - blob: the whole result in memory, then an `<a download>` click. Only for
//   small files, or where neither of the others exists.

/**
 * The parts of the File System Access API Chromium has and TypeScript's DOM
 * types lack.
 * @typedef {FileSystemFileHandle & { remove?: () => Promise<void> }} SaveHandle
 * @typedef {Window & { showSaveFilePicker?: (options: { suggestedName: string }) => Promise<SaveHandle> }} PickerWindow
 */
/** What every sink offers. @typedef {{ mode: SaveMode, write(chunk: Uint8Array): Promise<void>, close(): Promise<{ url: string } | void>, abort(reason?: any): Promise<void> }} Sink */
/** @typedef {'file-system' | 'service-worker' | 'blob'} SaveMode */

const pickerWindow = /** @type {PickerWindow} */ (window);

/** Results up to this size are always saved through a Blob: no picker, no worker. */
export const SMALL_FILE = 16 * 1024 * 1024;
const BATCH = 4 * 1024 * 1024;
const FSA_BATCH = 4 * 1024 * 1024;
const FSA_DEPTH = 2;
const SW_START_TIMEOUT_MS = 10_000;

/** @type {Promise<ServiceWorkerRegistration | null> | null} */
let worker = null;

/** Where sw.js answers downloads: its scope (the page itself is outside it). */
export const SW_SCOPE = '__pqfile/download/';

/**
 * `reg` once its worker is active (the page is outside the worker's scope,
 * so `navigator.serviceWorker.ready` would never resolve).
 * @param {ServiceWorkerRegistration} reg
 * @returns {Promise<ServiceWorkerRegistration>}
 */
function activated(reg) {
  const pending = reg.installing ?? reg.waiting;
  if (reg.active || !pending) return Promise.resolve(reg);
  return new Promise((resolve) => {
    pending.addEventListener('statechange', () => {
      if (pending.state === 'activated' || pending.state === 'redundant') resolve(reg);
    });
  });
}

/** Registers sw.js (once). Resolves to null where service workers are unavailable. */
export function registerWorker() {
  if (worker) return worker;
  if (!('serviceWorker' in navigator) || !window.isSecureContext) {
    worker = Promise.resolve(null);
    return worker;
  }
  // The worker controls its download path only, never the page or /v1.
  const scope = new URL(SW_SCOPE, document.baseURI).href;
  worker = navigator.serviceWorker
    .getRegistrations()
    // Earlier versions registered it for the whole site: take that back.
    .then((regs) => Promise.all(regs.filter((r) => r.scope !== scope).map((r) => r.unregister())))
    .then(() => navigator.serviceWorker.register(new URL('sw.js', document.baseURI), { scope }))
    .then(activated)
    .catch((e) => {
      console.warn('pqfile: service worker unavailable:', e);
      return null;
    });
  return worker;
}

export function hasFileSystemAccess() {
  return typeof pickerWindow.showSaveFilePicker === 'function';
}

/**
 * @param {number} size the input file's size (close to the output's)
 * @returns {Promise<SaveMode>}
 */
export async function chooseSaveMode(size) {
  if (size <= SMALL_FILE) return 'blob';
  if (hasFileSystemAccess()) return 'file-system';
  if (await registerWorker()) return 'service-worker';
  return 'blob';
}

/** Describes the large-file path for the page footer. */
export async function describeLargeFileMode() {
  if (hasFileSystemAccess()) return 'Large files are written straight to disk (File System Access API).';
  if (await registerWorker()) return 'Large files are streamed to your downloads (service worker).';
  return 'This browser cannot stream downloads: results are held in memory before saving.';
}

/**
 * Asks where to save. Must run in the click handler's user activation.
 * @param {string} suggestedName
 * @returns {Promise<SaveHandle>} rejects with AbortError if dismissed
 */
export function pickSaveFile(suggestedName) {
  if (!pickerWindow.showSaveFilePicker) return Promise.reject(new DOMException('no File System Access API', 'NotSupportedError'));
  return pickerWindow.showSaveFilePicker({ suggestedName });
}

/**
 * Opens the sink for `mode`.
 * @param {SaveMode} mode
 * @param {string} name the file name to save as
 * @param {{ handle?: SaveHandle, signal: AbortSignal }} options
 * @returns {Promise<Sink>}
 */
export async function openSink(mode, name, { handle, signal }) {
  if (mode === 'file-system' && handle) return fileSystemSink(handle);
  if (mode === 'service-worker') return serviceWorkerSink(name, signal);
  return blobSink(name);
}

/**
 * @param {SaveHandle} handle
 * @returns {Promise<Sink>}
 */
async function fileSystemSink(handle) {
  const writable = await handle.createWritable();
  // Each write() is a round trip to the browser process (which copies the
  // bytes into its swap file): write FSA_BATCH bytes at a time, not 16 KiB
  // chunks (13 MiB/s -> disk speed), from a ring of FSA_DEPTH reused buffers
  // so that encryption fills one while the others are being written. A
  // buffer is refilled only after its write() resolved (the bytes are
  // consumed by then).
  /** @type {Uint8Array<ArrayBuffer>[]} */
  const bufs = [];
  /** @type {Promise<void>[]} */
  const writes = []; // in flight, oldest first, one per buffer in use
  let cur = 0;
  let fill = 0;
  const flush = async () => {
    if (fill === 0) return;
    const w = writable.write(bufs[cur].subarray(0, fill));
    w.catch(() => {}); // awaited below or in close()
    writes.push(w);
    fill = 0;
    cur = (cur + 1) % FSA_DEPTH;
    if (writes.length === FSA_DEPTH) await writes.shift();
  };
  return {
    mode: 'file-system',
    /** @param {Uint8Array} chunk */
    async write(chunk) {
      let off = 0;
      while (off < chunk.byteLength) {
        bufs[cur] ??= new Uint8Array(FSA_BATCH);
        const n = Math.min(FSA_BATCH - fill, chunk.byteLength - off);
        bufs[cur].set(n === chunk.byteLength ? chunk : chunk.subarray(off, off + n), fill);
        fill += n;
        off += n;
        if (fill === FSA_BATCH) await flush();
      }
    },
    async close() {
      await flush();
      while (writes.length) await writes.shift();
      await writable.close();
    },
    /** @param {any} [reason] */
    async abort(reason) {
      bufs.length = 0;
      writes.length = 0; // each has a catch handler
      fill = 0;
      await writable.abort(reason).catch(() => {});
      // showSaveFilePicker created the (empty) file; do not leave it behind.
      await handle.remove?.().catch(() => {});
    },
  };
}

/** @type {string | null} */
let lastBlobUrl = null;

/**
 * Starts the browser's download of `url` as `name` (a hidden link, clicked).
 * @param {string} url
 * @param {string} name
 */
export function clickDownload(url, name) {
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
}

/**
 * @param {string} name
 * @returns {Sink}
 */
function blobSink(name) {
  /** @type {Uint8Array[]} */
  let parts = [];
  return {
    mode: 'blob',
    /** @param {Uint8Array} chunk */
    async write(chunk) {
      parts.push(chunk);
    },
    async close() {
      const blob = new Blob(/** @type {BlobPart[]} */ (parts), { type: 'application/octet-stream' });
      parts = [];
      if (lastBlobUrl) URL.revokeObjectURL(lastBlobUrl);
      lastBlobUrl = URL.createObjectURL(blob);
      clickDownload(lastBlobUrl, name);
      return { url: lastBlobUrl };
    },
    async abort() {
      parts = [];
    },
  };
}

/**
 * @param {string} name
 * @param {AbortSignal} signal
 * @returns {Promise<Sink>}
 */
async function serviceWorkerSink(name, signal) {
  const reg = await registerWorker();
  if (!reg?.active) throw new Error('the download service worker is not running');
  const id = crypto.randomUUID();
  const { port1: port, port2 } = new MessageChannel();

  // Credits: the worker asks for one batch per `pull`.
  let credits = 0;
  /** @type {(() => void) | null} */
  let creditWaiter = null;
  /** @type {DOMException | null} */
  let cancelled = null;
  /** @type {(value?: unknown) => void} */
  let started = () => {};
  const startedPromise = new Promise((resolve, reject) => {
    started = resolve;
    setTimeout(() => reject(new Error('the streaming download did not start')), SW_START_TIMEOUT_MS);
  });
  startedPromise.catch(() => {});
  /** @param {{ data: { type: string } }} event */
  const onMessage = ({ data }) => {
    if (data.type === 'started') started();
    else if (data.type === 'pull') credits++;
    else if (data.type === 'cancel') cancelled = new DOMException('The download was cancelled in the browser.', 'AbortError');
    const w = creditWaiter;
    creditWaiter = null;
    w?.();
  };
  port.onmessage = onMessage;
  signal.addEventListener('abort', () => onMessage({ data: { type: 'aborted' } }), { once: true });
  const waitForCredit = async () => {
    while (credits === 0) {
      if (cancelled) throw cancelled;
      signal.throwIfAborted();
      await new Promise((/** @type {(v?: unknown) => void} */ resolve) => {
        creditWaiter = resolve;
      });
    }
    if (cancelled) throw cancelled;
    credits--;
  };

  reg.active.postMessage({ type: 'pqfile-download', id, name }, [port2]);
  const iframe = document.createElement('iframe');
  iframe.hidden = true;
  iframe.title = 'download';
  iframe.src = new URL(`${SW_SCOPE}${id}/${encodeURIComponent(name)}`, document.baseURI).href;
  document.body.append(iframe);
  // Long downloads: keep the worker from being stopped as idle.
  const keepAlive = setInterval(() => reg.active?.postMessage({ type: 'ping' }), 10_000);
  const cleanup = () => {
    clearInterval(keepAlive);
    setTimeout(() => iframe.remove(), 60_000);
  };

  /** @type {Uint8Array[]} */
  let batch = [];
  let batchBytes = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    await waitForCredit();
    const chunks = batch;
    batch = [];
    batchBytes = 0;
    const transfer = chunks.filter((c) => c.byteOffset === 0 && c.byteLength === c.buffer.byteLength).map((c) => c.buffer);
    port.postMessage({ type: 'chunks', chunks }, transfer);
  };

  try {
    await startedPromise;
  } catch (e) {
    cleanup();
    port.close();
    throw e;
  }
  return {
    mode: 'service-worker',
    /** @param {Uint8Array} chunk */
    async write(chunk) {
      batch.push(chunk);
      batchBytes += chunk.byteLength;
      if (batchBytes >= BATCH) await flush();
    },
    async close() {
      await flush();
      port.postMessage({ type: 'end' });
      cleanup();
    },
    /** @param {any} [reason] */
    async abort(reason) {
      batch = [];
      port.postMessage({ type: 'error', message: String(reason?.message ?? reason) });
      cleanup();
    },
  };
}
