// Browser half of `cargo xtask bench gpu`: whole plans in the app (release build) in
// headless Chromium, on WebGPU (SwiftShader here; any real GPU elsewhere) and on the
// app's CPU fallback (WebGPU off), in the same script so the ratio compares like with like.
// Times are the worker's own plan timer (data-seconds of the plan line), from the Plan
// request to the finished plan, hashing of the input excluded.
// Inputs: the built-in sample (1797 × 64) and a synthetic 10,000 × 128 set of 20 noisy
// blobs written here. Usage: LABELPLAN_DIST=... node bench_plan.mjs  (prints JSON lines)
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { serveDist, launch, openApp, waitForSummaryOf } from './harness.mjs';

/** A float32 C-order .npy of `rows` × `dim`: row i near blob i % centers. */
function blobsNpy(path, rows, dim, centers) {
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

/** Plans the loaded data with `method` in a fresh page; the worker's seconds and backend. */
async function planSeconds(page, method) {
  await page.getByTestId('method').selectOption(method);
  await page.getByTestId('plan').click();
  await page.getByTestId('plan-result').or(page.getByTestId('error')).waitFor({ timeout: 1_800_000 });
  if (await page.getByTestId('error').count()) throw new Error(await page.getByTestId('error').textContent());
  const seconds = Number(await page.getByTestId('plan-meta').getAttribute('data-seconds'));
  const backend = await page.getByTestId('plan-backend').textContent();
  return { seconds, backend };
}

const synthetic = join(tmpdir(), 'labelplan-bench-10000x128.npy');
blobsNpy(synthetic, 10_000, 128, 20);
const server = await serveDist();
try {
  for (const [name, file] of [['sample 1797 × 64', null], ['synthetic 10000 × 128', synthetic]]) {
    for (const method of ['coverage', 'elfs']) {
      const result = { input: name, method };
      for (const webgpu of [true, false]) {
        const { context, page } = await launch({ webgpu });
        try {
          await openApp(page, server.url);
          if (file) {
            await page.getByTestId('file-input').setInputFiles(file);
            await waitForSummaryOf(page, 'labelplan-bench-10000x128.npy');
          } else {
            await page.getByTestId('load-sample').click();
            await waitForSummaryOf(page, 'digits.npy');
          }
          const r = await planSeconds(page, method);
          result[webgpu ? 'webgpu' : 'cpu'] = r;
        } finally {
          await context.close();
        }
      }
      result.webgpu_over_cpu = result.webgpu.seconds / result.cpu.seconds;
      console.log(JSON.stringify(result));
    }
  }
} finally {
  rmSync(synthetic, { force: true });
  await server.close();
}
