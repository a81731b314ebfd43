/**
 * The f32 GlobalAveragePool fast path of the C target (codegen/kernels/pool-window.ts: blocks of up
 * to 256 summed in 16 float lanes, blocks added in double) at the plane sizes of EfficientNet-B0's
 * squeeze-excite blocks and odd sizes with tails, against the reference interpreter. Built with
 * -O2 -march=native (vectorized) and run with every task alone in reverse order (runOnC's harness).
 * Tolerance: the C target's 1e-4·max|ref| + 1e-5. The inputs are shifted away from zero (values in
 * [0.5, 2.5)) so a cancelling sum cannot hide a lost block.
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
