/**
 * Pooling kernels of the C target (codegen/kernels/pool-window.ts) at model sizes against the
 * reference interpreter, built with -O2 -march=native and run with every task alone in reverse
 * order (runOnC's harness):
 * - GlobalAveragePool f32 (blocks of up to 256 summed in 16 float lanes, blocks added in double) at
 *   EfficientNet-B0's squeeze-excite and SqueezeNet's plane sizes and odd ones with tails; tolerance
 *   1e-4·max|ref| + 1e-5, inputs shifted away from zero ([0.5, 2.5)) so a cancelling sum cannot hide
 *   a lost block;
 * - MaxPool with strides ≥ 2 (interior runs, edges, pads, dilation, ceil mode), exact, with NaNs.
 */
import { describe, expect, it } from "vitest";
import { Node, Value, tensorType } from "../ir/graph.ts";
import { interpret } from "../ir/interpret.ts";
import type { Tensor } from "../ir/tensor.ts";
import { runOnC } from "../conformance/c-target.ts";
import { graphBuilder } from "./helpers/graph-builder.ts";

const SHAPES: [number, number, number, number][] = [
  [1, 32, 112, 112], // 12544 = 49 blocks of 256
  [2, 40, 28, 28], // 784: 3 blocks and a tail of 16
  [1, 96, 17, 19], // 323: one block and a tail of 67
  [1, 24, 8, 8], // 64: a short block only
  [1, 1000, 13, 13], // 169: a block of 160 and a tail of 9 (SqueezeNet's classifier)
  [1, 64, 7, 7], // 49: a block of 48 and a tail of 1
  [1, 8, 3, 5], // 15: the scalar path
];

describe("GlobalAveragePool f32 on the C target", () => {
  it("matches the interpreter on large planes, planes with tails and small planes", () => {
    const { g, inputs, rand, input } = graphBuilder("gap_fast", 7);
    SHAPES.forEach((sh, i) => {
      const t = rand(sh, 1);
      for (let j = 0; j < t.size; j++) t.data[j] = t.data[j]! + 1.5;
      const x = input(`x${i}`, t);
      const y = new Value(`y${i}`, tensorType("f32", [sh[0], sh[1], 1, 1]));
      g.nodes.push(new Node("GlobalAveragePool", `gap${i}`, [x], [y], {}));
      g.outputs.push(y);
    });
    const model = { graph: g, opsets: { "": 17 }, format: "text" as const, meta: {} };
    const want = interpret(g, inputs) as Tensor[];
    const got = runOnC(model, inputs, { cflags: ["-O2", "-march=native"] }) as Tensor[];
    SHAPES.forEach((sh, i) => {
      const w = want[i]!;
      const a = got[i]!;
      expect(a.shape).toEqual(w.shape);
      let err = 0;
      let ref = 0;
      for (let j = 0; j < w.size; j++) {
        err = Math.max(err, Math.abs(a.data[j]! - w.data[j]!));
        ref = Math.max(ref, Math.abs(w.data[j]!));
      }
      const bound = 1e-4 * ref + 1e-5;
      expect(err, `${sh.join("×")}: max error ${err.toExponential(2)} vs bound ${bound.toExponential(2)}`).toBeLessThanOrEqual(bound);
    });
  }, 120_000);
});

interface MaxCase {
  x: [number, number, number, number];
  k: number;
  s: number;
  pads?: [number, number, number, number];
  d?: number;
  ceil?: boolean;
}

/** MaxPool with strides ≥ 2 at SqueezeNet's and ResNet's sizes and odd ones (interior runs, edges, ceil mode). */
const MAX_CASES: MaxCase[] = [
  { x: [1, 64, 111, 111], k: 3, s: 2, ceil: true }, // SqueezeNet features.2
  { x: [1, 64, 112, 112], k: 3, s: 2, pads: [1, 1, 1, 1] }, // ResNet18 stem
  { x: [2, 8, 20, 21], k: 2, s: 2 },
  { x: [1, 5, 31, 29], k: 3, s: 3, d: 2, pads: [2, 1, 0, 2] },
  { x: [1, 3, 17, 40], k: 5, s: 4, pads: [2, 2, 2, 2], ceil: true },
];

describe("MaxPool f32 with strides on the C target", () => {
  it("matches the interpreter exactly, NaNs included, on strided windows", () => {
    const { g, inputs, rand, input } = graphBuilder("maxpool_fast", 11);
    MAX_CASES.forEach((cs, i) => {
      const t = rand(cs.x, 2);
      for (let j = 0; j < 6; j++) t.data[(j * 7919 + i * 104729) % t.size] = Number.NaN;
      const x = input(`x${i}`, t);
      const [n, c, h, w] = cs.x;
      const p = cs.pads ?? [0, 0, 0, 0];
      const d = cs.d ?? 1;
      const ext = d * (cs.k - 1) + 1;
      const o = (len: number, pb: number, pe: number): number => {
        const v = (len + pb + pe - ext) / cs.s;
        let out = (cs.ceil ? Math.ceil(v) : Math.floor(v)) + 1;
        if (cs.ceil && (out - 1) * cs.s >= len + pb) out--;
        return out;
      };
      const y = new Value(`y${i}`, tensorType("f32", [n, c, o(h, p[0], p[2]), o(w, p[1], p[3])]));
      g.nodes.push(new Node("MaxPool", `mp${i}`, [x], [y], {
        kernel_shape: [cs.k, cs.k], strides: [cs.s, cs.s], pads: p, dilations: [d, d], ceil_mode: cs.ceil ? 1 : 0,
      }));
      g.outputs.push(y);
    });
    const model = { graph: g, opsets: { "": 17 }, format: "text" as const, meta: {} };
    const want = interpret(g, inputs) as Tensor[];
    const got = runOnC(model, inputs, { cflags: ["-O2", "-march=native"] }) as Tensor[];
    let nans = 0;
    MAX_CASES.forEach((cs, i) => {
      const w = want[i]!;
      const a = got[i]!;
      expect(a.shape, cs.x.join("×")).toEqual(w.shape);
      let bad = 0;
      for (let j = 0; j < w.size; j++) if (!Object.is(a.data[j], w.data[j])) bad++;
      expect(bad, `${cs.x.join("×")} k${cs.k} s${cs.s}: elements differing`).toBe(0);
      nans += w.data.filter((v) => Number.isNaN(v)).length;
    });
    expect(nans, "NaN outputs (a NaN first tap wins, a later one does not)").toBeGreaterThan(0);
  }, 120_000);
});
