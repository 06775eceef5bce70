// "My documents": the caller's documents and those shared with them, each
// of their own with two panels, its access history and its sharing
// (sharing.js), opened in a detail row under the document.

import { formatTime } from '../lib/format.js';
import { describeError } from '../lib/messages.js';
import { $, cell, headRow } from './dom.js';
import { keyServer, token } from './session.js';
import { fillSharing } from './sharing.js';

/** @typedef {import('../lib/pqfile.js').DocumentSummary} DocumentSummary */

const ui = {
  documentsBody: $('documents-body'),
  documentsRefresh: $('documents-refresh'),
};

/** Wires the Refresh button. */
export function wireDocuments() {
  ui.documentsRefresh.addEventListener('click', loadDocuments);
}

/** Fetches and shows the list (signed in only). */
export async function loadDocuments() {
  if (!token()) return;
  ui.documentsBody.setAttribute('aria-busy', 'true');
  try {
    const docs = await keyServer().listDocuments();
    renderDocuments(docs);
  } catch (e) {
    const p = document.createElement('p');
    p.className = 'muted';
    const status = /** @type {{ status?: number }} */ (e).status;
    if (status === 404 || status === 405) {
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

const DOC_COLUMNS = ['Document', 'Created', 'Key', 'Owner', 'Stored copy', ''];

/** @param {DocumentSummary[]} docs */
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
  for (const doc of docs) body.append(...documentRows(doc));
  table.append(caption, headRow(DOC_COLUMNS), body);
  ui.documentsBody.replaceChildren(table);
}

/**
 * A document's row and its (hidden) detail row for the panels.
 * @param {DocumentSummary} doc
 */
function documentRows(doc) {
  const tr = document.createElement('tr');
  tr.dataset.documentId = doc.documentId;
  tr.dataset.shared = String(Boolean(doc.shared));
  const ownerCell = document.createElement('td');
  if (doc.shared) {
    ownerCell.append(cell('span', String(doc.owner ?? '')), ' ', cell('span', 'shared with you', 'badge'));
  } else {
    ownerCell.append(cell('span', 'you', 'muted'));
  }
  tr.append(
    cell('td', doc.documentId, 'mono'),
    cell('td', formatTime(doc.createdAt)),
    cell('td', String(doc.keyId ?? '')),
    ownerCell,
    cell('td', doc.hasContent ? 'on the server' : 'none', doc.hasContent ? '' : 'muted'),
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
      panel.id = `${p.kind}-${doc.documentId}`;
      panel.hidden = true;
      panel.setAttribute('role', 'region');
      panel.setAttribute('aria-label', `${p.label} of document ${doc.documentId.slice(0, 8)}`);
      button.setAttribute('aria-controls', panel.id);
      button.addEventListener('click', () => togglePanel(button, panel, detailRow, () => p.fill(panel, doc)));
      detailCell.append(panel);
      actions.append(button);
    }
  }
  tr.append(actions);
  return [tr, detailRow];
}

/**
 * Opens or closes a panel; the detail row shows while any of its panels is open.
 * @param {HTMLButtonElement} button
 * @param {HTMLElement} panel
 * @param {HTMLTableRowElement} row
 * @param {() => Promise<void>} fill
 */
async function togglePanel(button, panel, row, fill) {
  const open = button.getAttribute('aria-expanded') === 'true';
  button.setAttribute('aria-expanded', String(!open));
  panel.hidden = open;
  row.hidden = [...row.querySelectorAll('.panel')].every((p) => /** @type {HTMLElement} */ (p).hidden);
  if (!open) await fill();
}

/**
 * @param {any} e
 * @param {string} what
 */
function panelError(e, what) {
  if (e.status === 403) return `Only the document’s owner can see its ${what}.`;
  if (e.status === 404 && e.code !== 'document_not_found') return `The ${what} is not available on this key server.`;
  return describeError(e, { mode: 'encrypt', fileName: '' }).title;
}

const HISTORY_COLUMNS = ['Time', 'Type', 'User', 'IP address', 'User agent', 'Outcome'];

/**
 * The user agent, clamped to two lines on screen; the whole string is in the cell and its tooltip.
 * @param {string | null} agent
 */
function agentCell(agent) {
  const td = document.createElement('td');
  td.className = 'agent';
  const span = cell('span', agent ?? '');
  if (agent) span.title = agent;
  td.append(span);
  return td;
}

/**
 * @param {HTMLElement} panel
 * @param {DocumentSummary} doc
 */
async function fillHistory(panel, doc) {
  panel.replaceChildren(cell('p', 'Loading access history…', 'muted'));
  panel.setAttribute('aria-busy', 'true');
  try {
    const entries = await keyServer().accessHistory(doc.documentId);
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
      tr.dataset.accessType = e.accessType ?? '';
      tr.dataset.outcome = e.outcome ?? '';
      const outcome = e.outcome === 'refused' ? `refused${e.reason ? ` (${e.reason.replaceAll('_', ' ')})` : ''}` : (e.outcome ?? '');
      tr.append(
        cell('td', formatTime(e.timestamp)),
        cell('td', e.accessType ?? ''),
        cell('td', e.user ?? 'unknown user'),
        cell('td', e.ipAddress ?? '', 'mono'),
        agentCell(e.userAgent),
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
