/**
 * Benchmark: infc's C target against onnxruntime-node, measured in the same run at equal thread
 * counts (1 and 2), median latency after warm-up.
 *
 *   npm run bench -- --models ../shared/models [--only resnet18] [--iters 30] [--levels O0,O2] [--json out/bench.json]
 *
 * infc runs through the artifact's own runner (`model_run --bench`, zero-filled inputs); ORT runs
 * through onnxruntime-node on the same shapes. The two take turns in 5 rounds of iters/5 runs each
 * (ORT's session stays open; each infc round is a runner process that loads, warms up and times),
 * so a noisy stretch of a shared machine hits both. Prints a table of ratios infc/ORT and ends with one
 * line `geomean infc/ort 1t=<ratio> 2t=<ratio>` (for the last level given, -O2 by default).
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import ort from "onnxruntime-node";
import { benchArtifact, compileArtifact } from "../targets/c.ts";
import { importOnnxFile } from "../frontend/onnx/import.ts";

const MODELS = ["mobilenet_v2", "resnet18", "efficientnet_b0", "squeezenet1_1", "shufflenet_v2_x1_0", "bert_mini"];
const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const root = join(import.meta.dirname, "..");
const dir = resolve(opt("--models") ?? join(root, "..", "shared", "models"));
const iters = Number(opt("--iters") ?? "30");
const levels = (opt("--levels") ?? "O2").split(",");
const only = opt("--only");
const jsonPath = resolve(opt("--json") ?? join(root, "out", "bench.json"));
const THREADS = [1, 2];
const ROUNDS = 5;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** An onnxruntime-node session on zero inputs of the model's shapes, warmed up. */
async function ortSession(path: string, threads: number): Promise<{ run: (n: number) => Promise<number[]>; release: () => Promise<void> }> {
  const model = importOnnxFile(path);
  const sess = await ort.InferenceSession.create(path, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all" });
  const feeds: Record<string, ort.Tensor> = {};
  for (const v of model.graph.inputs) {
    if (v.type.kind !== "tensor" || !v.type.shape) throw new Error(`input '${v.name}' has no static shape`);
    const shape = v.type.shape.map((d) => (typeof d === "number" ? d : 1));
    const n = shape.reduce((a, b) => a * b, 1);
    feeds[v.name] = v.type.dtype === "i64" ? new ort.Tensor("int64", new BigInt64Array(n), shape) : new ort.Tensor("float32", new Float32Array(n), shape);
  }
  for (let i = 0; i < 5; i++) await sess.run(feeds);
  return {
    async run(n) {
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const t = performance.now();
        await sess.run(feeds);
        times.push(performance.now() - t);
      }
      return times;
    },
    release: () => sess.release(),
  };
}

interface Row {
  model: string;
  level: string;
  threads: number;
  infcMs: number;
  ortMs: number;
  ratio: number;
}

async function main(): Promise<void> {
  if (!existsSync(dir)) throw new Error(`no models folder at ${dir} (pass --models <dir>)`);
  const rows: Row[] = [];
  const models = MODELS.filter((m) => !only || m.includes(only));
  console.log(`model                level threads   infc ms    ort ms   infc/ort`);
  for (const name of models) {
    const path = join(dir, `${name}.onnx`);
    const outs = levels.map((level) => {
      const out = join(root, "out", "bench", `${name}-${level}`);
      compileArtifact(path, out, { level, cpu: "native", dims: {} });
      return out;
    });
    // ORT and infc take turns in ROUNDS rounds, so both see the same moments of a noisy machine;
    // ORT: the median of all its runs; infc: the median of its rounds' medians
    const per = Math.max(3, Math.ceil(iters / ROUNDS));
    for (const t of THREADS) {
      const sess = await ortSession(path, t);
      const ortTimes: number[] = [];
      const infcRounds: number[][] = levels.map(() => []);
      for (let round = 0; round < ROUNDS; round++) {
        ortTimes.push(...(await sess.run(per)));
        outs.forEach((out, li) => infcRounds[li]!.push(benchArtifact(out, { threads: t, iters: per }).medianMs));
      }
      await sess.release();
      const o = median(ortTimes);
      levels.forEach((level, li) => {
        const ms = median(infcRounds[li]!);
        const row: Row = { model: name, level, threads: t, infcMs: ms, ortMs: o, ratio: ms / o };
        rows.push(row);
        console.log(`${name.padEnd(20)} ${level.padEnd(5)} ${String(t).padStart(7)} ${ms.toFixed(2).padStart(9)} ${o.toFixed(2).padStart(9)} ${row.ratio.toFixed(3).padStart(10)}`);
      });
    }
  }
  const geo = (level: string, t: number): number => {
    const rs = rows.filter((r) => r.level === level && r.threads === t).map((r) => Math.log(r.ratio));
    return Math.exp(rs.reduce((a, b) => a + b, 0) / Math.max(1, rs.length));
  };
  for (const level of levels) console.log(`geomean ${level}: 1t=${geo(level, 1).toFixed(3)} 2t=${geo(level, 2).toFixed(3)}`);
  mkdirSync(dirname(jsonPath), { recursive: true });
  const last = levels[levels.length - 1]!;
  writeFileSync(jsonPath, JSON.stringify({ iters, levels, rows, geomean: Object.fromEntries(levels.map((l) => [l, { "1t": geo(l, 1), "2t": geo(l, 2) }])) }, null, 1) + "\n");
  console.log(`geomean infc/ort 1t=${geo(last, 1).toFixed(3)} 2t=${geo(last, 2).toFixed(3)}`);
}

await main();
