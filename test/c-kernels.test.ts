/**
 * C kernels of the optimizer's output against the reference interpreter: every golden pass case
 * (test/passes/<pass>.ir) whose inputs have static numeric shapes is run on the C target — its
 * expected (optimized) graph, so fused ops (FusedConv, LayerNormalization, Attention,
 * FusedElementwise, …) meet their C kernels — compiled with -O2 -march=native so the SIMD fast
 * paths run, and compared with the interpreter's result for the case's input graph on the same
 * random inputs.
 *
 * Tolerance: 1e-4·max|ref| + 1e-5 for f32 (the C kernels reassociate sums and use ≤ 2.4 ulp exp,
 * erf, tanh), one rounding step of the dtype for f16/bf16, exact for integers.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseModel } from "../ir/parse.ts";
import { interpret } from "../ir/interpret.ts";
import { Tensor } from "../ir/tensor.ts";
import { DTYPE_INFO } from "../ir/dtype.ts";
import { runOnC } from "../conformance/c-target.ts";
import { parseCases, randomInputs, readable } from "./helpers/golden.ts";

const GOLDEN = join(import.meta.dirname, "passes");
const files = existsSync(GOLDEN) ? readdirSync(GOLDEN).filter((f) => f.endsWith(".ir")).sort() : [];
const CFLAGS = ["-O2", "-march=native"];

/**
 * Cases that do not run on the C target, with the reason. Keyed `<pass>: <title>`.
 */
const RUNTIME_LOOP = "the case keeps its Loop by design (data-dependent, or beyond the unrolling limits) and target c has no runtime control flow (conformance/skip.ts skips such node tests too)";
const SKIP: Readonly<Record<string, string>> = {
  "eliminate-common: Tests that random ops are never merged.": "RandomUniformLike: target c has no random-number kernels (their streams cannot match the interpreter's)",
  "lower-control-flow: Tests that a Loop whose condition depends on data stays.": RUNTIME_LOOP,
  "lower-control-flow: Tests that a Loop with more trips than the unrolling limit stays.": RUNTIME_LOOP,
  "lower-control-flow: Tests that a Loop whose unrolling would exceed the node budget (1000 trips of 21 nodes) stays.": RUNTIME_LOOP,
};

function tolerance(dtype: string): { rtol: number; atol: number } | undefined {
  if (DTYPE_INFO[dtype as keyof typeof DTYPE_INFO]?.cls !== "float") return undefined;
  if (dtype === "bf16") return { rtol: 1.6e-2, atol: 1e-3 };
  if (dtype === "f16") return { rtol: 2e-3, atol: 1e-4 };
  return { rtol: 1e-4, atol: 1e-5 };
}

describe("C kernels of optimized golden cases match the interpreter (-O2 -march=native)", () => {
  for (const file of files) {
    const pass = file.slice(0, -".ir".length);
    const cases = parseCases(join(GOLDEN, file), pass);
    describe(pass, () => {
      for (const c of cases) {
        const before = parseModel(c.input).graph;
        const inputs = randomInputs(before);
        if (!inputs || !readable(before)) continue;
        const key = `${pass}: ${c.title}`;
        const skip = SKIP[key] ?? (c.ctx.target?.layout === "nhwc" ? "channels-last nodes (layout pass for nhwc targets) have no C kernels: target c is NCHW only" : undefined);
        (skip ? it.skip : it)(c.title, async () => {
          await new Promise((r) => setImmediate(r)); // let vitest's worker talk between long synchronous compiles
          const want = interpret(before, inputs);
          const got = runOnC(parseModel(c.expected), inputs, { cflags: CFLAGS });
          expect(got.length).toBe(want.length);
          want.forEach((w, i) => {
            const g = got[i];
            expect(w).toBeInstanceOf(Tensor);
            expect(g).toBeInstanceOf(Tensor);
            const tw = w as Tensor;
            const tg = g as Tensor;
            expect(tg.shape).toEqual(tw.shape);
            expect(tg.dtype).toBe(tw.dtype);
            const tol = tolerance(tw.dtype);
            let scale = 0;
            for (let k = 0; k < tw.size; k++) if (Number.isFinite(tw.data[k]!)) scale = Math.max(scale, Math.abs(tw.data[k]!));
            for (let k = 0; k < tw.size; k++) {
              const e = tw.data[k]!;
              const a = tg.data[k]!;
              if (!tol || !Number.isFinite(e)) expect(a, `output ${i} element ${k}`).toBe(e);
              else expect(Math.abs(a - e), `output ${i} element ${k}: ${a} vs ${e}`).toBeLessThanOrEqual(tol.rtol * scale + tol.atol);
            }
          });
        }, 60_000);
      }
    });
  }
});
