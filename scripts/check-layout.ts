/**
 * Checks the layout pass on real models: every .onnx in a folder (default ../shared/models) is
 * optimized for a target that prefers channels-last (the C target's capabilities with layout
 * "nhwc"; symbolic input dims bound to 1) by the -O2 pipeline with the layout pass right after
 * fuse-epilogue (where -O2 runs it), and by the same pipeline without it. Reported per model: the
 * channels-last nodes, the Transposes left and what each one reads and feeds, whether running the
 * pipeline again changes nothing (beyond what it changes without the layout pass), and whether the interpreter gives the same outputs with and
 * without the pass on a seeded random input: max|a−b| ≤ 1e-4·max|b| + 1e-5 for every output.
 *
 *   npx tsx scripts/check-layout.ts [--models ../shared/models] [--only resnet18]
 *
 * Exits non-zero when any check fails. Slow: the interpreter runs each model twice.
 */
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { importOnnxFile } from "../frontend/onnx/import.ts";
import type { Graph, Model, Node } from "../ir/graph.ts";
import { interpret } from "../ir/interpret.ts";
import { Tensor } from "../ir/tensor.ts";
import { bindDims } from "../passes/bind.ts";
import { DEFAULT_PASS_CONTEXT, type PassContext } from "../passes/pass.ts";
import { PIPELINES, runPasses } from "../passes/pipeline.ts";
import { printGraph } from "../ir/text.ts";
import { C_CAPS } from "../targets/c.ts";

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const dir = resolve(opt("--models") ?? join(import.meta.dirname, "..", "..", "shared", "models"));
const only = opt("--only");
const ctx: PassContext = { ...DEFAULT_PASS_CONTEXT, target: { ...C_CAPS, layout: "nhwc" } };
const without = PIPELINES.O2!.filter((p) => p !== "layout");
const at = without.indexOf("fuse-epilogue") + 1;
const withLayout = [...without.slice(0, at), "layout", ...without.slice(at)];

/** mulberry32, as scripts/check-models.ts. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomInputs(g: Graph, seed: number): Tensor[] {
  const r = rng(seed);
  return g.inputs.map((v) => {
    if (v.type.kind !== "tensor" || !v.type.shape || !v.type.shape.every((d) => typeof d === "number")) throw new Error(`input '${v.name}' has no static tensor type`);
    const t = Tensor.zeros(v.type.dtype, v.type.shape as number[]);
    const isInt = v.type.dtype === "i64" || v.type.dtype === "i32";
    for (let i = 0; i < t.size; i++) t.data[i] = isInt ? Math.floor(r() * 1000) : r() * 2 - 1;
    return t;
  });
}

/** One Transpose, described by what it reads and what reads it. */
function describe(g: Graph, t: Node): string {
  const src = t.inputs[0];
  const from = src?.producer ? src.producer.op : g.inputs.includes(src!) ? "input" : "const";
  const readers: string[] = g.nodes.filter((n) => n.inputs.includes(t.outputs[0])).map((n) => n.op);
  if (g.outputs.includes(t.outputs[0]!)) readers.push("output");
  return `${from}→[${(t.attrs.perm as number[]).join(",")}]→${readers.join("+")}`;
}

function load(file: string): Model {
  const model = importOnnxFile(join(dir, file));
  const dims: Record<string, number> = {};
  for (const v of model.graph.inputs) if (v.type.kind === "tensor") for (const d of v.type.shape ?? []) if (typeof d === "string") dims[d] = 1;
  bindDims(model.graph, dims);
  return model;
}

function check(file: string): boolean {
  const ref = load(file).graph;
  runPasses(ref, without, ctx);
  const g = load(file).graph;
  let last = performance.now();
  let layoutMs = 0;
  runPasses(g, withLayout, ctx, {
    after: (name) => {
      const now = performance.now();
      if (name === "layout") layoutMs = now - last;
      last = now;
    },
  });
  const after = printGraph(g);
  const changed: string[] = [];
  runPasses(g, withLayout, { ...ctx, log: (m) => (m.endsWith(": changed") ? changed.push(m) : 0) });
  // passes that a second run of the pipeline without layout changes too are not the layout pass's doing
  const base = load(file).graph;
  runPasses(base, without, ctx);
  const baseChanged = new Set<string>();
  runPasses(base, without, { ...ctx, log: (m) => (m.endsWith(": changed") ? baseChanged.add(m) : 0) });
  const own = changed.filter((m) => !baseChanged.has(m));
  const idempotent = own.length === 0 && (changed.length > 0 || printGraph(g) === after);
  const transposesBefore = ref.nodes.filter((n) => n.op === "Transpose").length;
  const cl = g.nodes.filter((n) => (n.attrs.channels_last ?? 0) !== 0);
  const ts = g.nodes.filter((n) => n.op === "Transpose");
  const inputs = randomInputs(g, 0);
  const t0 = performance.now();
  const want = interpret(ref, inputs);
  const got = interpret(g, inputs);
  const ms = performance.now() - t0;
  let ok = idempotent;
  const parts: string[] = [];
  g.outputs.forEach((v, i) => {
    const a = got[i];
    const b = want[i];
    if (!(a instanceof Tensor) || !(b instanceof Tensor) || a.size !== b.size) {
      ok = false;
      parts.push(`${v.name}: missing`);
      return;
    }
    let maxDiff = 0;
    let maxRef = 0;
    for (let k = 0; k < b.size; k++) {
      maxDiff = Math.max(maxDiff, Math.abs(a.data[k]! - b.data[k]!));
      maxRef = Math.max(maxRef, Math.abs(b.data[k]!));
    }
    const bound = 1e-4 * maxRef + 1e-5;
    ok &&= maxDiff <= bound;
    parts.push(`${v.name}: max|a-b|=${maxDiff.toExponential(2)} bound=${bound.toExponential(2)}`);
  });
  const nodes = `${g.nodes.length} nodes (${cl.length} channels-last, pass ${layoutMs.toFixed(0)} ms)`;
  const where = ts.map((t) => describe(g, t)).join(", ") || "none";
  const noted = baseChanged.size ? ` but what it changes without layout too (${[...baseChanged].join(", ")})` : "";
  const again = idempotent ? `a second run changes nothing${noted}` : `a second run changes the graph (${own.join(", ") || "same passes, other text"})`;
  console.log(`${ok ? "PASS" : "FAIL"} ${file}: ${nodes}; Transposes ${transposesBefore} → ${ts.length}: ${where}; ${again}; interpreter ${ms.toFixed(0)} ms, ${parts.join("; ")}`);
  return ok;
}

function main(): void {
  if (!existsSync(dir)) throw new Error(`no models folder at ${dir} (pass --models <dir>)`);
  const files = readdirSync(dir).filter((f) => f.endsWith(".onnx") && (!only || f.includes(only))).sort();
  let failed = 0;
  for (const f of files) {
    try {
      if (!check(f)) failed++;
    } catch (e) {
      failed++;
      console.log(`FAIL ${f}: ${(e as Error).name}: ${(e as Error).message}`);
    }
  }
  console.log(failed ? `${failed} check(s) failed` : "all checks passed");
  process.exitCode = failed ? 1 : 0;
}

main();
