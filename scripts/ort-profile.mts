/**
 * ONNX Runtime's own per-node profile of a model, to set beside `infc bench <artifact> --profile`:
 * onnxruntime-node with graph optimizations "all" and profiling on, zero inputs of the model's
 * shapes (symbolic dims = 1), 25 runs (the first 5 dropped); prints the total, the time per op
 * type, and the slowest nodes (median µs). ORT's node names show its own fusions and layouts
 * (e.g. "_nchwc" for its blocked-channel convs).
 *
 *   npx tsx scripts/ort-profile.mts ../shared/models/resnet18.onnx [threads] [top]
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import ort from "onnxruntime-node";
import { importOnnxFile } from "../frontend/onnx/import.ts";

const path = resolve(process.argv[2] ?? "");
const threads = Number(process.argv[3] ?? 1);
const top = Number(process.argv[4] ?? 15);
if (!process.argv[2]) throw new Error("usage: ort-profile.mts <model.onnx> [threads] [top]");
const model = importOnnxFile(path);
const dir = mkdtempSync(join(tmpdir(), "infc-ortprof-"));
const cwd = process.cwd();
process.chdir(dir); // ORT writes its profile into the working directory
try {
  const sess = await ort.InferenceSession.create(path, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all", enableProfiling: true, profileFilePrefix: "ort" });
  const feeds: Record<string, ort.Tensor> = {};
  for (const v of model.graph.inputs) {
    if (v.type.kind !== "tensor" || !v.type.shape) throw new Error(`input '${v.name}' has no static rank`);
    const shape = v.type.shape.map((d) => (typeof d === "number" ? d : 1));
    const n = shape.reduce((a, b) => a * b, 1);
    feeds[v.name] = v.type.dtype === "i64" ? new ort.Tensor("int64", new BigInt64Array(n), shape) : new ort.Tensor("float32", new Float32Array(n), shape);
  }
  for (let i = 0; i < 25; i++) await sess.run(feeds);
  await sess.release();
  const file = readdirSync(dir).filter((f) => f.startsWith("ort") && f.endsWith(".json")).sort().pop();
  if (!file) throw new Error("onnxruntime wrote no profile");
  const events = JSON.parse(readFileSync(join(dir, file), "utf8")) as { cat: string; name: string; dur: number; args: { op_name?: string } }[];
  const byNode = new Map<string, number[]>();
  for (const e of events) {
    if (e.cat !== "Node" || !e.name.endsWith("_kernel_time")) continue;
    const key = `${(e.args.op_name ?? "?").padEnd(18)} ${e.name.replace(/_kernel_time$/, "")}`;
    const list = byNode.get(key) ?? [];
    list.push(e.dur);
    byNode.set(key, list);
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const rows = [...byNode].map(([k, v]) => [k, median(v.slice(5))] as const).sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((t, r) => t + r[1], 0);
  console.log(`onnxruntime ${path}: sum of node medians ${(total / 1000).toFixed(3)} ms, threads ${threads}\n\nby op:`);
  const byOp = new Map<string, number>();
  for (const [k, v] of rows) byOp.set(k.split(" ")[0]!, (byOp.get(k.split(" ")[0]!) ?? 0) + v);
  for (const [op, us] of [...byOp].sort((a, b) => b[1] - a[1])) console.log(`  ${op.padEnd(18)} ${(us / 1000).toFixed(3).padStart(9)} ms`);
  console.log("\nslowest nodes:");
  for (const [k, v] of rows.slice(0, top)) console.log(`  ${v.toFixed(0).padStart(7)} us  ${k}`);
} finally {
  process.chdir(cwd);
  rmSync(dir, { recursive: true, force: true });
}
