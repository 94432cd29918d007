// Browser half of `cargo xtask bench`: loads a large .npy in the app (release build) in
// headless Chromium with SwiftShader WebGPU, and reports
// - parse MB/s, from the worker's own parse timer (data-seconds of "Parse time");
// - the baseline in the same browser: reading the same file as 4 MiB Blob slices in a
//   worker, as the app's reader does, without parsing;
// - the peak resident memory of the renderer process (page + worker) and of the GPU
//   process while loading, sampled from /proc every 50 ms, with the level before loading.
// Usage: LABELPLAN_DIST=... node bench_parse.mjs FILE.npy  (prints one JSON line)
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { serveDist, launch, openApp, waitForSummaryOf } from './harness.mjs';
import { basename } from 'node:path';

const file = process.argv[2];
const bytes = statSync(file).size;

/** Resident KiB of the Chromium started with `userDataDir` and its child processes
 * (renderer, GPU, utility: found through their parent ids), by process type. */
function rssByType(userDataDir) {
  const procs = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1];
      const rss = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
      procs.push({ pid, ppid, cmd, rss });
    } catch { /* the process ended */ }
  }
  const family = new Set(procs.filter((p) => p.cmd.includes(userDataDir) && !p.cmd.includes('--type=')).map((p) => p.pid));
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) if (!family.has(p.pid) && family.has(p.ppid)) { family.add(p.pid); grew = true; }
  }
  const out = { renderer: 0, gpu: 0, other: 0 };
  for (const p of procs.filter((p) => family.has(p.pid))) {
    const type = p.cmd.includes('--type=renderer') ? 'renderer' : p.cmd.includes('--type=gpu-process') ? 'gpu' : 'other';
    out[type] += p.rss;
  }
  return out;
}

const server = await serveDist();
const { page, userDataDir, close } = await launch({ webgpu: true });
try {
  const backend = await openApp(page, `${server.url}#backend=gpu`);
  const before = rssByType(userDataDir);
  const peak = { ...before };
  const timer = setInterval(() => {
    const now = rssByType(userDataDir);
    for (const k of Object.keys(peak)) peak[k] = Math.max(peak[k], now[k]);
  }, 50);
  await page.getByTestId('file-input').setInputFiles(file);
  await waitForSummaryOf(page, basename(file));
  clearInterval(timer);
  const seconds = Number(await page.getByTestId('parse-time').getAttribute('data-seconds'));
  const rows = await page.getByTestId('rows').textContent();

  // Baseline: the same slices read in a worker, no parsing.
  await page.evaluate(() => {
    const input = document.createElement('input');
    input.type = 'file';
    input.id = 'bench-raw';
    document.body.append(input);
  });
  await page.locator('#bench-raw').setInputFiles(file);
  const rawSeconds = await page.evaluate(async () => {
    const blob = document.getElementById('bench-raw').files[0];
    const src = `onmessage = async (e) => { const b = e.data; const t = performance.now();
      for (let i = 0; i < b.size; i += 4 << 20) { new Uint8Array(await b.slice(i, i + (4 << 20)).arrayBuffer()); }
      postMessage((performance.now() - t) / 1000); };`;
    const worker = new Worker(URL.createObjectURL(new Blob([src], { type: 'text/javascript' })));
    return await new Promise((ok) => { worker.onmessage = (e) => ok(e.data); worker.postMessage(blob); });
  });
  const mb = bytes / 1e6;
  console.log(JSON.stringify({
    backend, rows, bytes,
    parse_seconds: seconds, parse_mb_s: mb / seconds,
    baseline_blob_read_seconds: rawSeconds, baseline_mb_s: mb / rawSeconds,
    rss_kib_before: before, rss_kib_peak: peak,
  }));
} finally {
  await close();
  await server.close();
}
