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

/** Results up to this size are always saved through a Blob: no picker, no worker. */
export const SMALL_FILE = 16 * 1024 * 1024;
const BATCH = 4 * 1024 * 1024;
const FSA_BATCH = 4 * 1024 * 1024;
const FSA_DEPTH = 2;
const SW_START_TIMEOUT_MS = 10_000;

let worker = null; // Promise<ServiceWorkerRegistration | null>

/** Registers sw.js (once). Resolves to null where service workers are unavailable. */
export function registerWorker() {
  if (worker) return worker;
  if (!('serviceWorker' in navigator) || !window.isSecureContext) {
    worker = Promise.resolve(null);
    return worker;
  }
  worker = navigator.serviceWorker
    .register(new URL('sw.js', document.baseURI), { scope: './' })
    .then(() => navigator.serviceWorker.ready)
    .catch((e) => {
      console.warn('pqfile: service worker unavailable:', e);
      return null;
    });
  return worker;
}

export function hasFileSystemAccess() {
  return typeof window.showSaveFilePicker === 'function';
}

/**
 * @param {number} size the input file's size (close to the output's)
 * @returns {Promise<'file-system' | 'service-worker' | 'blob'>}
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
 * @returns {Promise<FileSystemFileHandle>} rejects with AbortError if dismissed
 */
export function pickSaveFile(suggestedName) {
  return window.showSaveFilePicker({ suggestedName });
}

/**
 * Opens the sink for `mode`.
 * @param {'file-system' | 'service-worker' | 'blob'} mode
 * @param {string} name the file name to save as
 * @param {{ handle?: FileSystemFileHandle, signal: AbortSignal }} options
 */
export async function openSink(mode, name, { handle, signal }) {
  if (mode === 'file-system') return fileSystemSink(handle);
  if (mode === 'service-worker') return serviceWorkerSink(name, signal);
  return blobSink(name);
}

async function fileSystemSink(handle) {
  const writable = await handle.createWritable();
  // Each write() is a round trip to the browser process (which copies the
  // bytes into its swap file): write FSA_BATCH bytes at a time, not 16 KiB
  // chunks (13 MiB/s -> disk speed), from a ring of FSA_DEPTH reused buffers
  // so that encryption fills one while the others are being written. A
  // buffer is refilled only after its write() resolved (the bytes are
  // consumed by then).
  const bufs = [];
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

let lastBlobUrl = null;

function blobSink(name) {
  let parts = [];
  return {
    mode: 'blob',
    async write(chunk) {
      parts.push(chunk);
    },
    async close() {
      const blob = new Blob(parts, { type: 'application/octet-stream' });
      parts = [];
      if (lastBlobUrl) URL.revokeObjectURL(lastBlobUrl);
      lastBlobUrl = URL.createObjectURL(blob);
      const a = document.createElement('a');
      a.href = lastBlobUrl;
      a.download = name;
      a.hidden = true;
      document.body.append(a);
      a.click();
      a.remove();
      return { url: lastBlobUrl };
    },
    async abort() {
      parts = [];
    },
  };
}

async function serviceWorkerSink(name, signal) {
  const reg = await registerWorker();
  if (!reg?.active) throw new Error('the download service worker is not running');
  const id = crypto.randomUUID();
  const { port1: port, port2 } = new MessageChannel();

  // Credits: the worker asks for one batch per `pull`.
  let credits = 0;
  let creditWaiter = null;
  let cancelled = null;
  let started;
  const startedPromise = new Promise((resolve, reject) => {
    started = resolve;
    setTimeout(() => reject(new Error('the streaming download did not start')), SW_START_TIMEOUT_MS);
  });
  startedPromise.catch(() => {});
  port.onmessage = ({ data }) => {
    if (data.type === 'started') started();
    else if (data.type === 'pull') credits++;
    else if (data.type === 'cancel') cancelled = new DOMException('The download was cancelled in the browser.', 'AbortError');
    const w = creditWaiter;
    creditWaiter = null;
    w?.();
  };
  signal.addEventListener('abort', () => port.onmessage({ data: { type: 'aborted' } }), { once: true });
  const waitForCredit = async () => {
    while (credits === 0) {
      if (cancelled) throw cancelled;
      signal.throwIfAborted();
      await new Promise((resolve) => {
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
  iframe.src = new URL(`__pqfile/download/${id}/${encodeURIComponent(name)}`, document.baseURI).href;
  document.body.append(iframe);
  // Long downloads: keep the worker from being stopped as idle.
  const keepAlive = setInterval(() => reg.active?.postMessage({ type: 'ping' }), 10_000);
  const cleanup = () => {
    clearInterval(keepAlive);
    setTimeout(() => iframe.remove(), 60_000);
  };

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
    async abort(reason) {
      batch = [];
      port.postMessage({ type: 'error', message: String(reason?.message ?? reason) });
      cleanup();
    },
  };
}
