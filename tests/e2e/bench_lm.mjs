// Browser half of `cargo xtask bench lm`: the model page (release build) in headless
// Chromium on WebGPU (SwiftShader here; any real GPU elsewhere) and on the CPU path
// (WebGPU off), the same prompt and greedy decode in the same script. Figures are the
// page's own: time to the first token (the prompt read, then one token), and tokens per
// second after it, dense and with each shipped sparsity set. A first generation compiles
// the GPU's pipelines and is not counted. Then the page's timing of the FFN alone and
// of decoding against the share of experts off (0, 30, 50, 70%).
// Usage: LABELPLAN_DIST=... node bench_lm.mjs   (prints one JSON line per backend)
import { serveDist, launch } from './harness.mjs';

const PROMPT = 'Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in my purse, and nothing particular to interest me on shore, I thought I would sail about a little and see the watery part of the world.';
const TOKENS = 32;

async function run(page, prompt, tokens) {
  await page.getByTestId('lm-prompt').fill(prompt);
  await page.getByTestId('lm-max').fill(String(tokens));
  await page.getByTestId('lm-max').dispatchEvent('change');
  await page.getByTestId('lm-generate').click();
  const stats = page.getByTestId('lm-stats');
  await page.getByTestId('lm-generate').and(page.locator(':enabled')).waitFor({ timeout: 1_800_000 });
  return { text: (await stats.textContent()).trim(), rate: Number(await stats.getAttribute('data-tokens-per-second')) };
}

const server = await serveDist();
try {
  for (const webgpu of [true, false]) {
    const { page, close } = await launch({ webgpu });
    try {
      await page.goto(`${server.url}?model`);
      await page.getByTestId('lm-model').filter({ hasText: 'parameters' }).waitFor({ timeout: 300_000 });
      // Another prompt, so none of the measured one is cached from the warm-up.
      await run(page, 'A warm-up.', 1);
      // Dense, then every shipped sparsity set (each after a warm-up of its own, which
      // reads the set, groups the model and compiles the sparse kernels).
      const sets = page.getByTestId('lm-sparsity').locator('option');
      const choices = [];
      for (let i = 0; i < await sets.count(); i++) {
        const label = (await sets.nth(i).textContent()).trim();
        // Thresholds need the dense gate and run on the CPU only.
        if (webgpu && label.startsWith('thresholds')) continue;
        choices.push({ value: await sets.nth(i).getAttribute('value'), label });
      }
      let dense;
      for (const { value, label } of choices) {
        await page.getByTestId('lm-sparsity').selectOption(value);
        if (value !== 'dense') await run(page, 'A warm-up.', 1);
        // The rate from the stats' data attribute: the text rounds it.
        const { text, rate } = await run(page, PROMPT, TOKENS);
        const m = text.match(/^(.*) · first token after (\d+) ms · [\d.]+ tokens\/s · (\d+) new tokens · prompt (\d+) tokens \((\d+) already cached\)/);
        if (!m) throw new Error(`unexpected stats: ${text}`);
        const [, backend, first, produced, prompt, cached] = m;
        const read = Number(prompt) - Number(cached);
        const flops = value === 'dense' ? null : (await page.getByTestId('lm-flops').textContent()).match(/\((\d+)% less\)/)?.[1];
        if (value === 'dense') dense = rate;
        console.log(JSON.stringify({ backend, ffn: label, ffn_flops_saved_percent: flops === null ? 0 : Number(flops),
          prompt_tokens: read, first_token_ms: Number(first), prefill_tokens_per_s: +(read / (Number(first) / 1000)).toFixed(1),
          decode_tokens_per_s: +rate.toFixed(3), token_time_vs_dense: +(dense / rate).toFixed(2), tokens: Number(produced) }));
      }
      // The page's own timing of every layer's FFN and of decoding against the share of
      // experts off (routers with a fixed share; best of three rounds).
      await page.getByTestId('lm-speed-rounds').fill('3');
      await page.getByTestId('lm-speed-rounds').dispatchEvent('change');
      await page.getByTestId('lm-speed').click();
      const speed = page.getByTestId('lm-speed-table');
      await speed.waitFor({ timeout: 3_600_000 });
      const backend = await speed.getAttribute('data-backend');
      for (const row of await speed.locator('tr[data-off]').all()) {
        const at = async (a) => Number(await row.getAttribute(a));
        console.log(JSON.stringify({ backend, experts_off: await row.getAttribute('data-off'),
          ffn_ms_per_token: +(await at('data-ffn-ms')).toFixed(2), ffn_vs_dense: +(await at('data-ffn-ratio')).toFixed(2),
          decode_tokens_per_s: +(await at('data-tokens-per-second')).toFixed(3), token_time_vs_dense: +(await at('data-token-ratio')).toFixed(2) }));
      }
    } finally {
      await close();
    }
  }
} finally {
  await server.close();
}
