/**
 * Checks that optimizing does not change what a model computes: every .onnx in a folder (default
 * ../shared/models) runs through the reference interpreter on the same seeded random input before
 * and after -O3; each output must satisfy max|a−b| ≤ 1e-4·max|b| + 1e-5. Prints the node counts
 * before and after each level, and how many BatchNormalization nodes are left. For convolution
 * networks it also fails when -O2 leaves a BatchNormalization or an unfused Relu/Clip.
 *
 * With --node-suite <dir> it also runs every ONNX backend node test (model + test_data_set_*)
 * through the interpreter after -O3 and compares with the expected outputs; tests that fail
 * without optimizing are not counted against the optimizer.
 *
 *   npx tsx scripts/check-optimize.ts [--models ../shared/models] [--only bert] [--node-suite test/data/onnx-node]
 *
 * Exits non-zero when any check fails. Slow (the interpreter is a reference, not a fast path).
 */
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { importOnnxFile } from "../frontend/onnx/import.ts";
import { interpret } from "../ir/interpret.ts";
import { Tensor } from "../ir/tensor.ts";
import type { Model } from "../ir/graph.ts";
import { optimize } from "../passes/pipeline.ts";
import { DEFAULT_PASS_CONTEXT } from "../passes/pass.ts";
import { RUNNERS, runNodeTest } from "../conformance/run.ts";
import { listNodeTests } from "../conformance/node-test.ts";

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const dir = resolve(opt("--models") ?? join(import.meta.dirname, "..", "..", "shared", "models"));
const only = opt("--only");
const suite = opt("--node-suite");

/** xorshift32 seeded by `seed`: the same inputs on every run. */
function random(seed: number): () => number {
  let s = (seed ^ 0x9e3779b9) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** One random tensor per graph input (symbolic dims as 1; integers in [0, 1000)). */
function inputsFor(model: Model, seed: number): Tensor[] {
  const r = random(seed);
  return model.graph.inputs.map((v) => {
    if (v.type.kind !== "tensor" || !v.type.shape) throw new Error(`input '${v.name}' has no tensor shape`);
    const t = Tensor.zeros(v.type.dtype, v.type.shape.map((d) => (typeof d === "number" ? d : 1)));
    const isInt = v.type.dtype === "i64" || v.type.dtype === "i32";
    const a = t.data;
    for (let i = 0; i < a.length; i++) a[i] = isInt ? Math.floor(r() * 1000) : r() * 2 - 1;
    return t;
  });
}

const countOps = (m: Model, op: string): number => m.graph.nodes.filter((n) => n.op === op).length;

function checkModel(file: string): boolean {
  const path = join(dir, file);
  const counts: string[] = [];
  let bars = "";
  let barsOk = true;
  for (const level of ["O0", "O1", "O2"]) {
    const m = importOnnxFile(path);
    const onnxNodes = m.graph.nodes.length;
    const convNet = countOps(m, "Conv") > 0;
    optimize(m.graph, level, DEFAULT_PASS_CONTEXT);
    counts.push(`${level} ${m.graph.nodes.length}`);
    if (level !== "O2") continue;
    // the optimizer issue's bars: conv nets keep no BatchNormalization and no unfused Relu/Clip
    const left = ["BatchNormalization", "Relu", "Clip"].map((op) => [op, countOps(m, op)] as const);
    if (convNet) barsOk = left.every(([, k]) => k === 0);
    bars = `; -O2 kernels/ONNX nodes ${(m.graph.nodes.length / onnxNodes).toFixed(3)}${convNet ? `, left: ${left.map(([op, k]) => `${op} ${k}`).join(", ")}` : ""}`;
  }
  const model = importOnnxFile(path);
  const before = model.graph.nodes.length;
  const bnBefore = countOps(model, "BatchNormalization");
  const inputs = inputsFor(model, 0);
  const ref = interpret(model.graph, inputs);
  optimize(model.graph, "O3", DEFAULT_PASS_CONTEXT);
  const got = interpret(model.graph, inputs);
  let ok = barsOk;
  const parts: string[] = [];
  ref.forEach((b, i) => {
    const a = got[i];
    const name = model.graph.outputs[i]?.name ?? String(i);
    if (!(a instanceof Tensor) || !(b instanceof Tensor) || a.size !== b.size) {
      ok = false;
      parts.push(`${name}: missing or resized`);
      return;
    }
    let maxDiff = 0;
    let maxRef = 0;
    for (let k = 0; k < b.size; k++) {
      maxDiff = Math.max(maxDiff, Math.abs(a.data[k]! - b.data[k]!));
      maxRef = Math.max(maxRef, Math.abs(b.data[k]!));
    }
    const bound = 1e-4 * maxRef + 1e-5;
    const pass = maxDiff <= bound;
    ok &&= pass;
    parts.push(`${name}: max|b|=${maxRef.toExponential(2)} max|a-b|=${maxDiff.toExponential(2)} bound=${bound.toExponential(2)} ${pass ? "ok" : "FAIL"}`);
  });
  const bn = `BatchNormalization ${bnBefore} → ${countOps(model, "BatchNormalization")}`;
  console.log(`${ok ? "PASS" : "FAIL"} ${file}: nodes ${before} → O3 ${model.graph.nodes.length} (${counts.join(", ")}${bars}); ${bn}; ${parts.join("; ")}`);
  return ok;
}

/** Node tests that pass unoptimized but fail after -O3. */
function checkNodeSuite(root: string): number {
  const optimized = (m: Model, ins: Parameters<(typeof RUNNERS)["interp"]>[1]) => {
    optimize(m.graph, "O3", DEFAULT_PASS_CONTEXT);
    return interpret(m.graph, ins);
  };
  let passed = 0;
  let broken = 0;
  for (const t of listNodeTests(root)) {
    const d = join(root, t);
    const plain = runNodeTest(d, "interp", RUNNERS.interp!);
    if (plain.status !== "pass") continue;
    const r = runNodeTest(d, "interp", optimized);
    if (r.status === "pass") passed++;
    else {
      broken++;
      console.log(`FAIL ${t} after -O3: ${r.reason ?? ""}`);
    }
  }
  console.log(`node suite after -O3: ${passed} still pass, ${broken} broken by optimizing`);
  return broken;
}

function main(): void {
  if (!existsSync(dir)) throw new Error(`no models folder at ${dir} (pass --models <dir>)`);
  let failed = 0;
  for (const f of readdirSync(dir).filter((x) => x.endsWith(".onnx") && (!only || x.includes(only))).sort()) {
    try {
      if (!checkModel(f)) failed++;
    } catch (e) {
      failed++;
      console.log(`FAIL ${f}: ${(e as Error).name}: ${(e as Error).message}`);
    }
  }
  if (suite) failed += checkNodeSuite(resolve(suite));
  console.log(failed ? `${failed} check(s) failed` : "all checks passed");
  process.exitCode = failed ? 1 : 0;
}

main();
