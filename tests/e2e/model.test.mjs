// The model page (?model) in headless Chromium: SmolLM2-135M from the page's own origin
// with byte progress, kept in the browser's cache storage; greedy text on WebGPU
// (SwiftShader) and with WebGPU off, token for token the native CLI's; chat mode; a
// broken GGUF refused with the loaded model kept.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { openSync, readSync, writeFileSync, rmSync, closeSync, statfsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { serveDist, withBrowser, screenshots, repo, recordTexts, seenTexts, profiles } from './harness.mjs';

const MODEL = join(repo, 'web', 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');
const PROMPT = 'The capital of France is';
const TOKENS = 8;

let server;
before(async () => { server = await serveDist(); });
after(async () => { await server?.close(); });

/** The native CLI's greedy tokens (exact products: the page's arithmetic on both passes). */
function nativeGreedy() {
  const out = execFileSync('cargo', ['run', '-q', '-p', 'labelplan-cli', '--bin', 'labelplan-lm', '--', 'generate', MODEL,
    '--prompt', PROMPT, '--tokens', String(TOKENS), '--json'], { cwd: repo, stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.toString());
}

async function waitForModel(page) {
  await page.getByTestId('lm-model').filter({ hasText: 'parameters' }).waitFor({ timeout: 180_000 });
  return (await page.getByTestId('lm-model').textContent()).trim();
}

/** Generates greedily from PROMPT and returns { tokens, stats, backend }. */
async function generate(page) {
  await page.getByTestId('lm-prompt').fill(PROMPT);
  await page.getByTestId('lm-max').fill(String(TOKENS));
  await page.getByTestId('lm-max').dispatchEvent('change');
  await page.getByTestId('lm-generate').click();
  const stats = page.getByTestId('lm-stats');
  await stats.waitFor({ timeout: 300_000 });
  const tokens = (await page.getByTestId('lm-output').getAttribute('data-tokens')).split(',').map(Number);
  return { tokens, stats: (await stats.textContent()).trim(), backend: await stats.getAttribute('data-backend') };
}

test('on WebGPU the page downloads the model with progress, keeps it cached, and writes the native greedy tokens', async () => {
  const native = nativeGreedy();
  await withBrowser({ webgpu: true }, async ({ page, logs, requests }) => {
    await recordTexts(page, 'progress');
    await page.goto(`${server.url}?model`);
    const info = await waitForModel(page);
    const progress = await seenTexts(page);
    assert.ok(progress.some((t) => /Downloading the model.*MiB of 93\.8 MiB/.test(t)), progress.join('\n'));
    // The page says whether the browser kept a copy, and if not, why: with its profile on
    // a 150 MB tmpfs, Chromium's Cache.put fails ("NetworkError: … Cache.put() encountered
    // a network error"), which is our reading of a CI failure when the profiles were in
    // the temp folder.
    const storage = await page.evaluate(() => navigator.storage.estimate().then((e) => `${e.usage} of ${e.quota} bytes`));
    const { bavail, bsize } = statfsSync(profiles);
    const room = `${info}\nthe origin's storage: ${storage}; free on the profile's disk: ${bavail * bsize} bytes`;
    assert.match(info, /134\.5M parameters, 93\.8 MiB \(downloaded from this site, kept in the browser's cache\)/, room);
    const origin = new URL(server.url).origin;
    assert.ok(requests.some((r) => r.startsWith(`${origin}/models/SmolLM2-135M-Instruct.Q4_1.gguf`)));
    assert.deepEqual(requests.filter((r) => !r.startsWith(origin) && !r.startsWith('blob:') && !r.startsWith('data:')), []);
    const { tokens, stats, backend } = await generate(page);
    assert.match(backend, /^WebGPU: /, `${stats}\n${logs.join('\n')}`);
    assert.deepEqual(tokens, native.tokens, `page: ${await page.getByTestId('lm-output').textContent()} native: ${native.text}`);
    assert.equal((await page.getByTestId('lm-output').textContent()), native.text);
    assert.match(stats, /first token after \d+ ms · [\d.]+ tokens\/s/);
    await screenshots(page, 'model-webgpu');
    // The next visit reads the model from the browser's cache storage.
    await page.reload();
    assert.match(await waitForModel(page), /93\.8 MiB \(from the browser's cache\)/);
  });
});

test('with WebGPU off the model runs on the CPU with the same tokens; chat mode; a broken GGUF keeps the model', async () => {
  const native = nativeGreedy();
  await withBrowser({ webgpu: false }, async ({ page, logs }) => {
    await page.goto(`${server.url}?model`);
    await waitForModel(page);
    assert.equal(await page.getByTestId('lm-backend').inputValue(), 'cpu');
    const { tokens, backend, stats } = await generate(page);
    assert.equal(backend, 'CPU', `${stats}\n${logs.join('\n')}`);
    assert.deepEqual(tokens, native.tokens);
    // A chat turn in the model's template: the conversation shows both turns.
    await page.getByTestId('lm-chat').check();
    await page.getByTestId('lm-prompt').fill('Name one colour.');
    await page.getByTestId('lm-generate').click();
    await page.getByTestId('lm-conversation').locator('.turn').nth(1).waitFor({ timeout: 300_000 });
    assert.equal(await page.getByTestId('lm-conversation').locator('.turn.user').count(), 1);
    await screenshots(page, 'model-chat-cpu');
    // A truncated copy of the model: a clear message, and the loaded model stays.
    const broken = join(tmpdir(), `labelplan-broken-${process.pid}.gguf`);
    const head = Buffer.alloc(4096);
    const fd = openSync(MODEL, 'r');
    readSync(fd, head, 0, head.length, 0);
    closeSync(fd);
    writeFileSync(broken, head);
    try {
      await page.getByTestId('lm-file').setInputFiles(broken);
      const error = page.getByTestId('lm-error');
      await error.waitFor({ timeout: 60_000 });
      assert.match(await error.textContent(), /labelplan-broken-\d+\.gguf/);
      assert.match(await page.getByTestId('lm-model').textContent(), /134\.5M parameters/);
      await screenshots(page, 'model-broken-file');
    } finally {
      rmSync(broken, { force: true });
    }
  });
});

/** Chooses the sparsity set whose label matches `label`, generates, and returns what the page shows. */
async function generateSparse(page, label) {
  const select = page.getByTestId('lm-sparsity');
  await select.locator('option', { hasText: label }).first().waitFor({ state: 'attached', timeout: 60_000 });
  const value = await select.locator('option', { hasText: label }).first().getAttribute('value');
  await select.selectOption(value);
  const { tokens, stats, backend } = await generate(page);
  const heatmap = page.getByTestId('lm-heatmap');
  await heatmap.waitFor({ timeout: 60_000 });
  return { tokens, stats, backend, heatmap };
}

test('an LTE set runs sparse on WebGPU and on the CPU with the same tokens; heatmap, token experts, chart and speed table drawn', async () => {
  const runs = [];
  for (const webgpu of [true, false]) {
    await withBrowser({ webgpu }, async ({ page, logs }) => {
      await page.goto(`${server.url}?model`);
      await waitForModel(page);
      const { tokens, stats, backend, heatmap } = await generateSparse(page, 'LTE');
      assert.match(backend, webgpu ? /^WebGPU: / : /^CPU$/, `${stats}\n${logs.join('\n')}`);
      // One column per token read (the prompt's and all but the last new one), 30 layers each.
      const columns = await heatmap.locator('g.column').count();
      assert.ok(columns >= tokens.length, `${columns} columns for ${tokens.length} new tokens`);
      assert.equal(await heatmap.locator('g.column').first().locator('rect').count(), 30);
      const share = Number(await heatmap.getAttribute('data-mean-share'));
      assert.ok(share > 0.05 && share < 0.95, `mean share of experts used ${share}`);
      const flops = (await page.getByTestId('lm-flops').textContent()).trim();
      assert.match(flops, /MFLOPs per token with the chosen experts against [\d.]+ dense \(\d+% less\)/);
      await heatmap.locator('g.column').nth(2).click();
      const experts = page.getByTestId('lm-token-experts');
      await experts.waitFor();
      assert.ok(Number(await experts.getAttribute('data-on')) > 0);
      await screenshots(page, webgpu ? 'model-sparse-webgpu' : 'model-sparse-cpu');
      const chart = page.getByTestId('lm-chart');
      assert.ok(Number(await chart.getAttribute('data-points')) >= 4, 'the chart has the evaluation points');
      assert.ok(await chart.locator('circle[stroke="#000"]').count() >= 1, 'the chosen set is ringed');
      if (!webgpu) {
        // Every set's perplexity measured in the page on a pasted text: a row each, drawn hollow.
        await page.getByTestId('lm-measure-text').fill('Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse, I thought I would sail about a little.');
        await page.getByTestId('lm-measure').click();
        const table = page.getByTestId('lm-measured');
        await table.waitFor({ timeout: 600_000 });
        const sets = await page.getByTestId('lm-sparsity').locator('option').count();
        assert.equal(await table.locator('tr').count(), 1 + sets, 'a header, dense and every set');
        assert.equal(await chart.locator('circle.measured-here').count(), sets);
        await screenshots(page, 'model-sparse-measured');
        // The FFN and decoding timed here against the share of experts off: a row per
        // share, dense first (the figures are this machine's; only their form is checked).
        await page.getByTestId('lm-speed-rounds').fill('1');
        await page.getByTestId('lm-speed-rounds').dispatchEvent('change');
        await page.getByTestId('lm-speed').click();
        const speed = page.getByTestId('lm-speed-table');
        await speed.waitFor({ timeout: 600_000 });
        assert.equal(await speed.getAttribute('data-backend'), 'CPU');
        const rows = speed.locator('tr[data-off]');
        assert.deepEqual(await rows.evaluateAll((trs) => trs.map((tr) => tr.dataset.off)), ['dense', '0', '0.3', '0.5', '0.7']);
        for (const attr of ['data-ffn-ms', 'data-tokens-per-second']) {
          const values = await rows.evaluateAll((trs, a) => trs.map((tr) => Number(tr.getAttribute(a))), attr);
          assert.ok(values.every((v) => Number.isFinite(v) && v > 0), `${attr}: ${values}`);
        }
        assert.equal(await rows.first().getAttribute('data-ffn-ratio'), '1');
        await screenshots(page, 'model-speed');
      }
      runs.push({ tokens, share });
    });
  }
  assert.deepEqual(runs[0].tokens, runs[1].tokens, 'the same greedy tokens on WebGPU and on the CPU');
  assert.equal(runs[0].share, runs[1].share, 'the same experts on WebGPU and on the CPU');
});
