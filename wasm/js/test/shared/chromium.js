// Headless Chromium through playwright-core and Debian's chromium (never
// `npx playwright install`: no browser downloads here).
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export async function launch(extraArgs = []) {
  const dir = mkdtempSync(join(tmpdir(), 'pqfile-chromium-'));
  const context = await chromium.launchPersistentContext(dir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [...CHROMIUM_ARGS, ...extraArgs],
  });
  return {
    context,
    async page(url, { log = true } = {}) {
      const page = await context.newPage();
      if (log) {
        page.on('console', (m) => console.log(`[chromium] ${m.text()}`));
        page.on('pageerror', (e) => console.log(`[chromium pageerror] ${e.message}`));
      }
      await page.goto(url);
      return page;
    },
    async close() {
      await context.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
