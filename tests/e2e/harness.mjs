// Shared set-up for the browser tests: a static server for dist/ and Debian's Chromium
// driven by playwright-core, with or without SwiftShader's WebGPU.
import { createServer } from 'node:http';
import { readFile, mkdir } from 'node:fs/promises';
import { extname, join, normalize, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, '..', '..');
export const dist = process.env.LABELPLAN_DIST ?? join(repo, 'dist');
export const fixtures = join(repo, 'tests', 'fixtures');
export const artifacts = join(here, 'artifacts');

const TYPES = {
  '.html': 'text/html', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.css': 'text/css', '.npy': 'application/octet-stream', '.png': 'image/png',
};

/** Serves dist/ on a free loopback port under `prefix` (a static host's sub-path; any
 * other path is 404); resolves to { url, close }. */
export async function serveDist({ prefix = '/' } = {}) {
  const server = createServer(async (req, res) => {
    const requested = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const path = normalize(requested.slice(prefix.length - 1)).replace(/^(\.\.[/\\])+/, '');
    const file = join(dist, path.endsWith('/') ? path + 'index.html' : path);
    try {
      if (!requested.startsWith(prefix)) throw new Error('outside the prefix');
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(body);
    } catch {
      res.writeHead(404);
      res.end('not found');
    }
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}${prefix}`, close: () => new Promise((ok) => server.close(ok)) };
}

const BASE_FLAGS = [
  '--headless=new', '--no-sandbox', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--disable-quic',
];
const WEBGPU_FLAGS = [
  '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
];

/** Where each Chromium's profile goes: on the build's disk, not in the system's temp
 * folder, which may be small (on a 150 MB tmpfs Chromium's Cache.put of the 94 MiB model
 * fails, though its quota estimate says 1 GiB). */
export const profiles = join(repo, 'target', 'chromium-profiles');

/**
 * Launches Chromium in a fresh profile; `webgpu: false` leaves WebGPU out to test the CPU
 * fallback. `close()` ends it and removes the profile (the model test's holds 94 MiB).
 */
export async function launch({ webgpu = true } = {}) {
  mkdirSync(profiles, { recursive: true });
  const userDataDir = mkdtempSync(join(profiles, 'profile-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: [...BASE_FLAGS, ...(webgpu ? WEBGPU_FLAGS : [])],
    viewport: { width: 1100, height: 900 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const logs = [];
  page.on('console', (m) => logs.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => logs.push(`pageerror: ${e.message}`));
  // Every request the page and its worker make, to check none leaves the origin.
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  const close = async () => {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  };
  return { page, logs, requests, userDataDir, close };
}

/**
 * Runs `body({ page, logs, requests })` in a fresh Chromium, closing it afterwards. The
 * page's Content-Security-Policy must refuse nothing the app does: any violation (the
 * browser logs "Content Security Policy" for each) fails the test.
 */
export async function withBrowser(options, body) {
  const { page, logs, requests, close } = await launch(options);
  let out;
  try {
    out = await body({ page, logs, requests });
  } finally {
    await close();
  }
  const refused = logs.filter((l) => l.includes('Content Security Policy'));
  if (refused.length) throw new Error(`the page's CSP refused something:\n${refused.join('\n')}`);
  return out;
}

/** Opens the app and waits for the worker to report its backend. */
export async function openApp(page, url) {
  await page.goto(url);
  await page.getByTestId('backend').filter({ hasNotText: 'starting' }).waitFor({ timeout: 60_000 });
  return (await page.getByTestId('backend').textContent()).trim();
}

/** Reads the summary table into { rows, dim, ... } keyed by data-testid. */
export async function summary(page) {
  const cells = page.getByTestId('summary').locator('td[data-testid]');
  const out = {};
  for (const cell of await cells.all()) {
    out[await cell.getAttribute('data-testid')] = (await cell.textContent()).trim();
  }
  out.file = (await page.getByTestId('summary').locator('h2').textContent()).trim();
  return out;
}

/** Waits until the summary names `file` (a load finished). */
export async function waitForSummaryOf(page, file) {
  await page.getByTestId('summary').locator('h2', { hasText: file }).waitFor({ timeout: 60_000 });
  await page.getByTestId('progress').waitFor({ state: 'detached', timeout: 60_000 });
}

/**
 * Records every text the element `testId` shows from the page's first script on, so that
 * a state too short for Playwright's polling (a download over loopback) is still seen;
 * `seenTexts(page)` reads them (reset by each navigation).
 */
export async function recordTexts(page, testId) {
  await page.addInitScript((id) => {
    const seen = (window.__seenTexts = []);
    const note = () => {
      for (const el of document.querySelectorAll(`[data-testid="${id}"]`)) {
        if (seen.at(-1) !== el.textContent) seen.push(el.textContent);
      }
    };
    new MutationObserver(note).observe(document, { subtree: true, childList: true, characterData: true });
  }, testId);
}

export const seenTexts = (page) => page.evaluate(() => window.__seenTexts ?? []);

export async function screenshot(page, name) {
  await mkdir(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
}

/** The two viewports the page must hold its layout at: a laptop and a phone. */
export const VIEWPORTS = [{ width: 1280, height: 800 }, { width: 390, height: 844 }];

/**
 * Screenshots of the page's current state at both viewports in both colour schemes
 * (`<name>-<width>-<scheme>.png`), failing when the page scrolls sideways at either
 * width. The viewport and scheme are put back afterwards.
 */
export async function screenshots(page, name) {
  const before = page.viewportSize();
  try {
    for (const viewport of VIEWPORTS) {
      await page.setViewportSize(viewport);
      // A frame for the layout (and the map's canvas) to follow the new width.
      await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done))));
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      if (width > viewport.width) throw new Error(`${name}: the page scrolls sideways at ${viewport.width} px (${width} px wide)`);
      for (const colorScheme of ['light', 'dark']) {
        await page.emulateMedia({ colorScheme });
        await screenshot(page, `${name}-${viewport.width}-${colorScheme}`);
      }
    }
  } finally {
    await page.emulateMedia({ colorScheme: 'light' });
    await page.setViewportSize(before);
  }
}

/** A float32 C-order .npy of `rows` × `dim`: row i near blob i % centers. */
export function blobsNpy(path, rows, dim, centers) {
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32) * 2 - 1;
  const middles = Float32Array.from({ length: centers * dim }, rand);
  const values = new Float32Array(rows * dim);
  for (let i = 0; i < rows * dim; i++) values[i] = middles[(Math.floor(i / dim) % centers) * dim + (i % dim)] + 0.35 * rand();
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${dim}), }`;
  header = header.padEnd(64 * Math.ceil((header.length + 11) / 64) - 11, ' ') + '\n';
  const pre = Buffer.alloc(10);
  Buffer.from('\x93NUMPY', 'latin1').copy(pre);
  pre[6] = 1; pre[7] = 0; pre.writeUInt16LE(header.length, 8);
  writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'), Buffer.from(values.buffer)]));
}

/**
 * Starts tracing `page`'s renderer; `stop()` resolves to its main thread's tasks, each
 * `{ wall, cpu }` in ms. `cpu` is the thread's own CPU time: on a loaded 2-core machine
 * (the worker planning, Chromium's other processes, this test) a task's wall time also
 * counts the time the OS ran something else, and doubled from 14 to 27 ms here.
 */
export async function traceMainThread(page) {
  const cdp = await page.context().newCDPSession(page);
  const events = [];
  cdp.on('Tracing.dataCollected', ({ value }) => events.push(...value));
  const complete = new Promise((ok) => cdp.on('Tracing.tracingComplete', ok));
  await cdp.send('Tracing.start', { categories: 'disabled-by-default-devtools.timeline', transferMode: 'ReportEvents' });
  return {
    async stop() {
      await cdp.send('Tracing.end');
      await complete;
      await cdp.detach();
      const main = new Set(events
        .filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args.name === 'CrRendererMain')
        .map((e) => `${e.pid}:${e.tid}`));
      return events
        .filter((e) => e.ph === 'X' && e.name === 'RunTask' && main.has(`${e.pid}:${e.tid}`))
        .map((e) => ({ wall: e.dur / 1000, cpu: (e.tdur ?? e.dur) / 1000 }));
    },
  };
}
