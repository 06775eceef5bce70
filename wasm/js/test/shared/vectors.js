// Runs every testdata/ vector through the package (both paths, whole and
// streamed); used by the browser test (Node has vectors.test.js).
function hex(bytes) {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function unhex(s) {
  return new Uint8Array(s.match(/../g).map((h) => parseInt(h, 16)));
}

function streamOf(bytes, size) {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= bytes.length) return c.close();
      c.enqueue(bytes.slice(off, off + size));
      off += size;
    },
  });
}

async function collect(stream) {
  const parts = [];
  for await (const p of stream) parts.push(p);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Returns { ran, failures: [string] }. `load(path)` gives a file's bytes. */
export async function runVectors(pqfile, manifest, load) {
  const failures = [];
  let ran = 0;
  for (const v of manifest.vectors) {
    const bytes = await load(v.file);
    for (const webCrypto of [true, false]) {
      for (const streamed of [false, true]) {
        ran++;
        const d = new pqfile.Decrypter({ webCrypto });
        for (const id of v.identities) d.addIdentity(id.key_id, unhex(id.seed));
        const label = `${v.name} (webCrypto=${webCrypto}, streamed=${streamed})`;
        try {
          const pt = streamed ? await collect(await d.decrypt(streamOf(bytes, 1000))) : await d.decrypt(bytes);
          const sha = hex(new Uint8Array(await crypto.subtle.digest('SHA-256', pt)));
          if (v.expect !== 'success') failures.push(`${label}: decrypted, expected ${v.error}`);
          else if (sha !== v.plaintext_sha256) failures.push(`${label}: wrong plaintext`);
        } catch (e) {
          if (v.expect === 'success') failures.push(`${label}: ${e.code ?? ''} ${e.message}`);
          else if (e.code !== v.error) failures.push(`${label}: got ${e.code ?? e.message}, expected ${v.error}`);
        }
      }
    }
  }
  return { ran, failures };
}
