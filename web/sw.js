// Streaming downloads for browsers without the File System Access API.
// The page posts {type: 'pqfile-download', id, name} with a MessagePort, then
// navigates a hidden iframe to `__pqfile/download/<id>/<name>` (the worker's
// whole scope: it controls neither the page nor /v1); this worker
// answers that navigation with a ReadableStream attachment fed from the port.
// Nothing is cached and no other request is touched.
//
// Port protocol: worker -> page `started`, `pull` (send one batch), `cancel`
// (the user cancelled the download); page -> worker `chunks` {chunks},
// `end`, `error` {message}.

/** This worker's global scope, typed (the file is checked with the webworker lib). */
const sw = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));

/** @typedef {{ port: MessagePort, name: string }} Download */

/** @type {Map<string, Download>} */
const pending = new Map();
// Fetches that arrived before their download's message: id -> wake-up.
// The page's message and the iframe's navigation reach this worker by
// different routes; the navigation's fetch event has been seen first (same
// worker instance, about 1 download in 20 under load: web/bench/repro-sw.js).
/** @type {Map<string, () => void>} */
const early = new Map();
const MESSAGE_WAIT_MS = 5_000;
// Registered with its download path as scope (web/lib/save.js SW_SCOPE).
const PREFIX = new URL(sw.registration.scope).pathname;

sw.addEventListener('install', () => sw.skipWaiting());
sw.addEventListener('activate', (event) => event.waitUntil(sw.clients.claim()));

sw.addEventListener('message', (event) => {
  const data = event.data;
  if (data?.type !== 'pqfile-download' || !event.ports[0]) return; // pings only keep us alive
  pending.set(data.id, { port: event.ports[0], name: String(data.name) });
  early.get(data.id)?.();
  // Forget downloads the page never started.
  setTimeout(() => pending.delete(data.id), 60_000);
});

sw.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (url.origin !== sw.location.origin || !url.pathname.startsWith(PREFIX)) return;
  const id = url.pathname.slice(PREFIX.length).split('/')[0];
  /** @param {Download | undefined} entry */
  const respond = (entry) => {
    if (!entry) return new Response('This download has expired. Start it again from the page.', { status: 404, headers: { 'content-type': 'text/plain; charset=utf-8' } });
    pending.delete(id);
    return streamResponse(entry);
  };
  // The usual case answers at once (not through a promise).
  const entry = pending.get(id);
  if (entry) event.respondWith(respond(entry));
  else event.respondWith(messageFor(id).then(respond));
});

/**
 * The download `id` once its message arrived, or undefined after MESSAGE_WAIT_MS.
 * @param {string} id
 */
async function messageFor(id) {
  await new Promise((/** @type {(v?: unknown) => void} */ resolve) => {
    const timer = setTimeout(resolve, MESSAGE_WAIT_MS);
    early.set(id, () => {
      clearTimeout(timer);
      resolve();
    });
  });
  early.delete(id);
  return pending.get(id);
}

/** @param {Download} download */
function streamResponse({ port, name }) {
  /** @type {(() => void) | null} */
  let waiting = null; // resolves the outstanding pull
  /** @type {ReadableStreamDefaultController<Uint8Array>} */
  let controller;
  const stream = new ReadableStream(
    {
      start(c) {
        controller = c;
        port.onmessage = ({ data }) => {
          if (data.type === 'chunks') {
            for (const chunk of data.chunks) controller.enqueue(chunk);
          } else if (data.type === 'end') {
            controller.close();
            port.close();
          } else if (data.type === 'error') {
            controller.error(new Error(data.message));
            port.close();
          }
          const w = waiting;
          waiting = null;
          w?.();
        };
        port.postMessage({ type: 'started' });
      },
      pull() {
        return /** @type {Promise<void>} */ (new Promise((resolve) => {
          waiting = () => resolve(undefined);
          port.postMessage({ type: 'pull' });
        }));
      },
      cancel() {
        port.postMessage({ type: 'cancel' });
        port.close();
      },
    },
    // Up to 16 MiB queued between the page and the download.
    new ByteLengthQueuingStrategy({ highWaterMark: 16 * 1024 * 1024 }),
  );
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  return new Response(stream, {
    headers: {
      'content-type': 'application/octet-stream',
      'content-disposition': `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`,
      'x-content-type-options': 'nosniff',
      'cache-control': 'no-store',
    },
  });
}
