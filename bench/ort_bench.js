// ONNX Runtime on a QDQ model: the peer qatc's generated code is measured against. Single thread,
// all graph optimizations (ORT fuses DQ -> Conv -> Q into QLinearConv and runs its int8 kernels).
// Prints one JSON object: whole-model latencies in ms, and the median time of each node from ORT's
// own profiler. With INPUT and OUTPUT (raw float32 files), it also runs the model once on INPUT
// and writes its first output to OUTPUT (report.py compares it with the trained model's output).
//   node ort_bench.js MODEL.onnx REPEAT PROFILE_DIR [INPUT OUTPUT]
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function session(model, profile) {
  return ort.InferenceSession.create(model, {
    intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
    enableProfiling: profile, profileFilePrefix: profile ? path.join(process.argv[4], 'ort') : undefined,
  });
}

async function main() {
  const [model, repeatText, profileDir, input, output] = process.argv.slice(2);
  const repeat = Number(repeatText);
  fs.rmSync(profileDir, {recursive: true, force: true});
  fs.mkdirSync(profileDir, {recursive: true});
  const s = await session(model, false);
  const meta = s.inputMetadata ? s.inputMetadata[0] : undefined;
  const shape = meta && meta.shape ? meta.shape : [1, 3, 224, 224];
  const x = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < x.length; ++i) x[i] = Math.sin(i * 0.37);
  const feeds = {[s.inputNames[0]]: new ort.Tensor('float32', x, shape)};
  if (input) {
    const b = fs.readFileSync(input);
    const data = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
    const y = await s.run({[s.inputNames[0]]: new ort.Tensor('float32', data, shape)});
    fs.writeFileSync(output, Buffer.from(y[s.outputNames[0]].data.buffer));
  }
  for (let i = 0; i < 3; ++i) await s.run(feeds);
  const runs = [];
  for (let i = 0; i < repeat; ++i) {
    const t0 = process.hrtime.bigint();
    await s.run(feeds);
    runs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  // Per node: a separate profiled session, so profiling does not slow the timed runs.
  const p = await session(model, true);
  for (let i = 0; i < Math.min(repeat, 10); ++i) await p.run(feeds);
  p.endProfiling();
  const file = fs.readdirSync(profileDir).filter((f) => f.startsWith('ort') && f.endsWith('.json'))
                   .map((f) => path.join(profileDir, f)).sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  const nodes = {};
  for (const e of JSON.parse(fs.readFileSync(file, 'utf8'))) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const name = e.name.slice(0, -'_kernel_time'.length);
    (nodes[name] = nodes[name] || {op: e.args.op_name, us: []}).us.push(e.dur);
  }
  const per_node = Object.entries(nodes).map(([name, n]) => ({name, op: n.op, ms: median(n.us) / 1000}));
  console.log(JSON.stringify({runs_ms: runs, median_ms: median(runs), nodes: per_node}));
}

main().catch((e) => {
  console.error(`ort_bench: ${e.message}`);
  process.exit(2);
});
