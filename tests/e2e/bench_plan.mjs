// Browser half of `cargo xtask bench gpu`: whole plans in the app (release build) in
// headless Chromium, on WebGPU (SwiftShader here; any real GPU elsewhere) and on the
// app's CPU fallback (WebGPU off), in the same script so the ratio compares like with like.
// Times are the worker's own plan timer (data-seconds of the plan line), from the Plan
// request to the finished plan, hashing of the input excluded.
// Inputs: the built-in sample (1797 × 64), a synthetic 10,000 × 128 set of 20 noisy blobs
// (coverage and elfs) and 100,000 × 384 of 50 blobs (the default plan, as the native
// `cargo xtask bench scale` runs it), written here. Each run also reports the page's
// longest main-thread task from loading the file to the finished plan, in CPU and wall
// time (a trace of the renderer; the page's start-up before the file is not counted).
// After each plan, the map is zoomed and panned and its frames' paint times reported.
// Usage: LABELPLAN_DIST=... [BENCH_BACKENDS=cpu|webgpu] node bench_plan.mjs [small|large]
// (prints JSON lines; default both sets, both backends)
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { serveDist, launch, openApp, waitForSummaryOf, blobsNpy, traceMainThread } from './harness.mjs';

/** Plans the loaded data with `method` in a fresh page; the worker's seconds and backend. */
async function planSeconds(page, method, trace) {
  await page.getByTestId('method').selectOption(method);
  await page.getByTestId('plan').click();
  await page.getByTestId('plan-result').or(page.getByTestId('error')).waitFor({ timeout: 1_800_000 });
  if (await page.getByTestId('error').count()) throw new Error(await page.getByTestId('error').textContent());
  const seconds = Number(await page.getByTestId('plan-meta').getAttribute('data-seconds'));
  const backend = await page.getByTestId('plan-backend').textContent();
  const tasks = await trace.stop();
  const longest = (key) => Math.max(0, ...tasks.map((t) => t[key]));
  return { seconds, backend, longest_task_cpu_ms: longest('cpu'), longest_task_wall_ms: longest('wall'), map: await mapFrames(page) };
}

/**
 * The map's frames while zooming (20 wheel steps at the centre) and panning (20 drag
 * steps): each step waits for its frame; the canvas reports each frame's paint time
 * (raster + putImageData, main thread). Median and largest, in ms.
 */
async function mapFrames(page) {
  const canvas = page.getByTestId('map-canvas');
  await canvas.scrollIntoViewIfNeeded();
  const box = await canvas.boundingBox();
  const [cx, cy] = [box.x + box.width / 2, box.y + box.height / 2];
  const frames = () => canvas.evaluate((c) => Number(c.dataset.frames));
  const times = [];
  const step = async (act) => {
    const before = await frames();
    await act();
    await page.waitForFunction((n) => Number(document.querySelector('[data-testid=map-canvas]').dataset.frames) > n, before);
    times.push(Number(await canvas.getAttribute('data-frame-ms')));
  };
  await page.mouse.move(cx, cy);
  for (let i = 0; i < 20; i++) await step(() => page.mouse.wheel(0, -120));
  await page.mouse.down();
  for (let i = 0; i < 20; i++) await step(() => page.mouse.move(cx + 8 * (i + 1), cy + 4 * (i + 1)));
  await page.mouse.up();
  times.sort((a, b) => a - b);
  return { frames: times.length, median_ms: times[times.length >> 1], max_ms: times[times.length - 1] };
}

const which = process.argv[2] ?? 'all';
// BENCH_BACKENDS=cpu (or webgpu) runs one side only.
const backends = (process.env.BENCH_BACKENDS ?? 'cpu,webgpu').split(',').map((b) => b === 'webgpu');
const cases = [];
if (which !== 'large') {
  cases.push({ name: 'sample 1797 × 64', file: null, methods: ['coverage', 'elfs'] });
  cases.push({ name: 'synthetic 10000 × 128', rows: 10_000, dim: 128, centers: 20, methods: ['coverage', 'elfs'] });
}
if (which !== 'small') {
  cases.push({ name: 'synthetic 100000 × 384', rows: 100_000, dim: 384, centers: 50, methods: ['coverage'] });
}
const server = await serveDist();
try {
  for (const c of cases) {
    const file = c.rows ? join(tmpdir(), `labelplan-bench-${c.rows}x${c.dim}.npy`) : null;
    if (file) blobsNpy(file, c.rows, c.dim, c.centers);
    try {
      for (const method of c.methods) {
        const result = { input: c.name, method };
        for (const webgpu of backends) {
          const { page, close } = await launch({ webgpu });
          try {
            // WebGPU forced: the probe would pick the CPU on a software adapter.
            await openApp(page, webgpu ? `${server.url}#backend=gpu` : server.url);
            const trace = await traceMainThread(page);
            if (file) {
              await page.getByTestId('file-input').setInputFiles(file);
              await waitForSummaryOf(page, file.split('/').pop());
            } else {
              await page.getByTestId('load-sample').click();
              await waitForSummaryOf(page, 'digits.npy');
            }
            result[webgpu ? 'webgpu' : 'cpu'] = await planSeconds(page, method, trace);
            console.error(`${c.name} ${method} ${webgpu ? 'webgpu' : 'cpu'}: ${JSON.stringify(result[webgpu ? 'webgpu' : 'cpu'])}`);
          } finally {
            await close();
          }
        }
        if (result.webgpu && result.cpu) result.webgpu_over_cpu = result.webgpu.seconds / result.cpu.seconds;
        console.log(JSON.stringify(result));
      }
    } finally {
      if (file) rmSync(file, { force: true });
    }
  }
} finally {
  await server.close();
}
