// The ONNX Runtime peer: times InferenceSession.run on VGG16's conv stack exported by export_onnx.py.
// usage: node bench/ort_forward.mjs MODEL.onnx [--threads T] [--batch N] [--runs R] [--size S] [--json OUT]
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(join(dirname(fileURLToPath(import.meta.url)), 'package.json'));
const ort = require('onnxruntime-node');

const args = process.argv.slice(2);
if (args.length < 1 || args[0] === '--help') {
  console.log('usage: node bench/ort_forward.mjs MODEL.onnx [--threads T] [--batch N] [--runs R] [--size S] [--json OUT]');
  process.exit(args.length < 1 ? 2 : 0);
}
const opt = { threads: 1, batch: 1, runs: 7, size: 224, json: '' };
for (let i = 1; i < args.length; i += 2) {
  const key = args[i].replace(/^--/, '');
  if (!(key in opt) || i + 1 >= args.length) { console.error(`ort_forward: bad option ${args[i]}`); process.exit(2); }
  opt[key] = key === 'json' ? args[i + 1] : Number(args[i + 1]);
  if (key !== 'json' && !(Number.isInteger(opt[key]) && opt[key] >= 1)) { console.error(`ort_forward: ${args[i]} needs a positive integer`); process.exit(2); }
}

async function main() {
  const session = await ort.InferenceSession.create(args[0], {
    intraOpNumThreads: opt.threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const count = opt.batch * 3 * opt.size * opt.size;
  const data = new Float32Array(count);
  for (let i = 0; i < count; ++i) data[i] = ((i * 7919) % 1000) / 500 - 1;
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [opt.batch, 3, opt.size, opt.size]) };

  await session.run(feeds);  // warm-up
  const times = [];
  for (let r = 0; r < opt.runs; ++r) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const sorted = [...times].sort((a, b) => a - b), mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;  // as Python's statistics.median
  const version = require('onnxruntime-node/package.json').version;
  console.log(`onnxruntime-node ${version} features forward, ${opt.threads} threads, batch ${opt.batch}: median ${median.toFixed(4)} s`);
  if (opt.json) {
    writeFileSync(opt.json, JSON.stringify({ impl: 'onnxruntime', version, threads: opt.threads, batch: opt.batch, size: opt.size,
                                             runs: opt.runs, stack_median_s: median, stack_times_s: times }) + '\n');
  }
}

main().catch((e) => {
  console.error(`ort_forward: ${String(e.message ?? e).replace(/\s+/g, ' ')}`);
  process.exit(1);
});
