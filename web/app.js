// The pqfile page: sign in with a token, then encrypt any file to NAME.pqf
// or decrypt a .pqf back, entirely in this page. Only the key-server calls
// (a new document and its public key; the unwrap of one stanza sealed to an
// ephemeral key, FORMAT.md §7; the rewrap of a header whose key is being
// retired, §8; the documents list and sharing) leave the page; file
// contents never do.
//
// This module only wires the parts together: app/session.js (token, sign
// in and out), app/job.js (choosing a file, the streaming run, its result;
// app/rewrap.js offers a retiring key's file moved to a current key),
// app/documents.js ("My documents", access history) and app/sharing.js.

import { hideOutcome } from './app/dom.js';
import { loadDocuments, wireDocuments } from './app/documents.js';
import { abortJob, clearJob, prepareJobs, wireJob } from './app/job.js';
import { onSession, startSession } from './app/session.js';

onSession({
  signedIn: () => {
    prepareJobs();
    loadDocuments();
  },
  signingOut: () => {
    abortJob();
    clearJob();
    hideOutcome();
  },
});
wireJob({ onEncrypted: loadDocuments, onRewrapped: loadDocuments });
wireDocuments();
startSession();
