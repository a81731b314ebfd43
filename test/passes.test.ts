/**
 * Pass tests: golden text IR, plus whole-pipeline properties.
 *
 * Golden files: test/passes/<pass>.ir holds the cases of one pass. Cases are separated by a line
 * `// -----`. Each case is
 *
 *   // Tests that <what the case shows>.
 *   // RUN: pass-a,pass-b          (optional: the passes to run; default: the file's pass)
 *   // TARGET: c                   (optional: run with that target's capabilities; default: none)
 *   graph @g(...) -> (...) { ... } (the input, text IR)
 *   // CHECK:
 *   graph @g(...) -> (...) { ... } (the expected output, exactly as ir/text.ts prints it)
 *
 * For every case the test parses the input, runs the passes, prints the graph and compares it with
 * the expected text; runs the passes again and expects no change (idempotence); and, when every
 * input has a static tensor shape, runs input and output graphs in the interpreter on the same
 * random inputs and expects the same results (the rewrite is sound, not only as written).
 * `INFC_UPDATE_GOLDEN=1 npx vitest run test/passes.test.ts` rewrites the CHECK parts from the
 * actual output (review the diff before keeping it).
 *
 * Pipeline properties: -O3 is deterministic (two imports give the same text) and idempotent
 * (running it again changes nothing) on every importable model of the ONNX node suite and on the
 * digits CNN; and fold-batchnorm keeps a larger Conv + BatchNormalization numerically equal.
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Graph, Node, Value, tensorType } from "../ir/graph.ts";
import { parseModel } from "../ir/parse.ts";
import { printGraph } from "../ir/text.ts";
import { interpret } from "../ir/interpret.ts";
import { Tensor } from "../ir/tensor.ts";
import { importOnnxFile, UnsupportedOpsError } from "../frontend/onnx/import.ts";
import { optimize, runPasses } from "../passes/pipeline.ts";
import { DEFAULT_PASS_CONTEXT, type PassContext } from "../passes/pass.ts";
import { PASSES } from "../passes/index.ts";
import { parseCases, random, randomInputs, readable, SEPARATOR } from "./helpers/golden.ts";

const GOLDEN = join(import.meta.dirname, "passes");
const DATA = join(import.meta.dirname, "data");
const UPDATE = process.env.INFC_UPDATE_GOLDEN === "1";

function expectSameResults(before: Graph, after: Graph, what: string): void {
  const inputs = randomInputs(before);
  if (!inputs || !readable(before)) return;
  const a = interpret(before, inputs);
  const b = interpret(after, inputs);
  expect(b.length, what).toBe(a.length);
  a.forEach((x, i) => {
    const y = b[i];
    expect(x, what).toBeInstanceOf(Tensor);
    expect(y, what).toBeInstanceOf(Tensor);
    const tx = x as Tensor;
    const ty = y as Tensor;
    expect(ty.shape, what).toEqual(tx.shape);
    expect(ty.dtype, what).toBe(tx.dtype);
    // one rounding step of the dtype, relative to the output's scale
    const rtol = tx.dtype === "bf16" ? 1.6e-2 : tx.dtype === "f16" ? 2e-3 : 1e-5;
    let scale = 0;
    for (let k = 0; k < tx.size; k++) if (Number.isFinite(tx.data[k]!)) scale = Math.max(scale, Math.abs(tx.data[k]!));
    for (let k = 0; k < tx.size; k++) {
      const e = tx.data[k]!;
      if (!Number.isFinite(e)) expect(ty.data[k], `${what}: element ${k}`).toBe(e);
      else expect(Math.abs(ty.data[k]! - e), `${what}: element ${k}`).toBeLessThanOrEqual(rtol * scale + 1e-6);
    }
  });
}

const goldenFiles = existsSync(GOLDEN) ? readdirSync(GOLDEN).filter((f) => f.endsWith(".ir")).sort() : [];

describe("golden pass tests", () => {
  it("has a golden file for every optimizer pass", () => {
    // every pass but the three that only make shapes static and drop dead code (covered by the pipeline tests)
    const infrastructure = new Set(["infer-shapes", "fold-constants", "eliminate-dead"]);
    for (const p of Object.keys(PASSES).filter((k) => !infrastructure.has(k))) expect(goldenFiles).toContain(`${p}.ir`);
  });

  for (const file of goldenFiles) {
    const pass = file.slice(0, -".ir".length);
    const path = join(GOLDEN, file);
    const cases = parseCases(path, pass);
    const actuals: string[] = [];
    describe(pass, () => {
      cases.forEach((c, i) => {
        it(c.title, () => {
          for (const p of c.passes) expect(PASSES[p], `unknown pass ${p}`).toBeDefined();
          const g = parseModel(c.input).graph;
          runPasses(g, c.passes, c.ctx);
          const text = printGraph(g);
          actuals[i] = text;
          if (!UPDATE) expect(text).toBe(c.expected);
          // idempotent: a second run reports no change and prints the same
          const changed: string[] = [];
          const ctx: PassContext = { ...c.ctx, log: (m) => (m.endsWith(": changed") ? changed.push(m) : 0) };
          runPasses(g, c.passes, ctx);
          expect(printGraph(g)).toBe(text);
          expect(changed).toEqual([]);
          expectSameResults(parseModel(c.input).graph, parseModel(text).graph, c.title);
        });
      });
      if (UPDATE) {
        it("rewrites the golden file", () => {
          const chunks = readFileSync(path, "utf8").split(SEPARATOR);
          const out = chunks.map((chunk, i) => `${chunk.split(/^\/\/ CHECK:[ \t]*$/m)[0]!}// CHECK:\n${actuals[i] ?? ""}`);
          writeFileSync(path, out.map((s, i) => (i === 0 ? s : s.replace(/^\n*/, "\n"))).join("// -----"));
        });
      }
    });
  }
});

/** Every model.onnx of the node suite. */
function nodeSuiteModels(): string[] {
  const root = join(DATA, "onnx-node");
  if (!existsSync(root)) return [];
  return readdirSync(root).sort().map((d) => join(root, d, "model.onnx")).filter((f) => existsSync(f));
}

/** The text of a model file after -O3, or undefined when it does not import. */
function optimizedText(file: string, ctx: PassContext = DEFAULT_PASS_CONTEXT): { text: string; again: string; changed: string[] } | undefined {
  let g: Graph;
  try {
    g = importOnnxFile(file).graph;
  } catch (e) {
    if (e instanceof UnsupportedOpsError) return undefined;
    throw e;
  }
  optimize(g, "O3", ctx);
  const text = printGraph(g);
  const changed: string[] = [];
  optimize(g, "O3", { ...ctx, log: (m) => (m.endsWith(": changed") ? changed.push(m) : 0) });
  return { text, again: printGraph(g), changed };
}

describe("the -O3 pipeline", () => {
  it("is deterministic and idempotent on every node-suite model and the digits CNN", () => {
    const files = [...nodeSuiteModels(), join(DATA, "digits_cnn.onnx")];
    const problems: string[] = [];
    let checked = 0;
    for (const f of files) {
      let first;
      let second;
      try {
        first = optimizedText(f);
        second = optimizedText(f);
      } catch (e) {
        problems.push(`${f}: ${(e as Error).name}: ${(e as Error).message}`);
        continue;
      }
      if (!first || !second) continue;
      checked++;
      if (first.text !== second.text) problems.push(`${f}: two runs differ`);
      if (first.again !== first.text) problems.push(`${f}: a second -O3 changes the graph`);
      const real = first.changed;
      if (real.length) problems.push(`${f}: a second -O3 reports ${real.join(", ")}`);
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(files.length / 2);
  });
});

describe("fold-batchnorm numerics", () => {
  it("keeps a Conv(3→8, 3×3) + BatchNormalization equal to within float32 rounding", () => {
    const r = random(11);
    const rand = (shape: number[], lo: number, hi: number): Tensor => {
      const t = Tensor.zeros("f32", shape);
      for (let i = 0; i < t.size; i++) t.data[i] = lo + (hi - lo) * r();
      return t;
    };
    const build = (): Graph => {
      const g = new Graph("convbn");
      const x = new Value("x", tensorType("f32", [2, 3, 6, 6]));
      const k = (name: string, t: Tensor): Value => {
        const v = new Value(name, tensorType("f32", t.shape), t);
        g.constants.push(v);
        return v;
      };
      const w = k("w", weights.w);
      const b = k("b", weights.b);
      const [scale, bias, mean, vars] = ["scale", "bias", "mean", "var"].map((n) => k(n, weights[n as "scale"]));
      const y = new Value("y", tensorType("f32", [2, 8, 6, 6]));
      const z = new Value("z", tensorType("f32", [2, 8, 6, 6]));
      g.inputs = [x];
      g.nodes = [
        new Node("Conv", "conv", [x, w, b], [y], { pads: [1, 1, 1, 1] }),
        new Node("BatchNormalization", "bn", [y, scale!, bias!, mean!, vars!], [z], { epsilon: 1e-3 }),
      ];
      g.outputs = [z];
      return g;
    };
    const weights = {
      w: rand([8, 3, 3, 3], -1, 1), b: rand([8], -1, 1), scale: rand([8], 0.5, 2),
      bias: rand([8], -1, 1), mean: rand([8], -1, 1), var: rand([8], 0.1, 3),
    };
    const before = build();
    const after = build();
    expect(PASSES["fold-batchnorm"]!.run(after, DEFAULT_PASS_CONTEXT)).toBe(true);
    expect(after.nodes.map((n) => n.op)).toEqual(["Conv"]);
    expect(after.outputs[0]!.name).toBe("z");
    expectSameResults(before, after, "conv+bn");
  });
});
