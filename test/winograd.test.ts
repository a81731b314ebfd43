/**
 * Winograd F(4×4, 3×3) convolution of the C target (codegen/kernels/nn-winograd.ts) against the
 * reference interpreter: Conv and FusedConv graphs with random constant (and non-constant) weights
 * over channel counts 3..512, images 1×1..56×56 with odd sizes, pads 0/1/2/asymmetric, bias, Relu /
 * Clip / LeakyRelu / residual / SiLU epilogues, batch 2 and groups 2, both forms of the weight step
 * (fused into the GEMM for ≤ 32 tiles, separate above), compiled with -O2 -march=native (the SIMD
 * paths; a subset also for AVX2 and without vector extensions) and run with every task alone in
 * reverse order (task independence).
 *
 * INFC_WINOGRAD=force makes every eligible conv take the Winograd path (its size heuristic would
 * send small ones to im2col); each case checks that the generated program really has the Winograd
 * kernels, or really has none where the conv is not eligible (stride 2, dilation, 5×5, depthwise).
 * Tolerance: the C target's 1e-4·max|ref| + 1e-5 (test/c-kernels.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Model, Node, Value, tensorType } from "../ir/graph.ts";
import { interpret } from "../ir/interpret.ts";
import { Tensor } from "../ir/tensor.ts";
import { optimize } from "../passes/pipeline.ts";
import { DEFAULT_PASS_CONTEXT } from "../passes/pass.ts";
import { lower } from "../codegen/lower.ts";
import { C_TARGET } from "../targets/c.ts";
import { runOnC } from "../conformance/c-target.ts";
import { graphBuilder } from "./helpers/graph-builder.ts";

interface ConvCase {
  name: string;
  n?: number;
  c: number;
  m: number;
  h: number;
  w: number;
  pads?: number[];
  group?: number;
  bias?: boolean;
  /** FusedConv activation ("" none) and params; undefined: a plain Conv. */
  act?: string;
  params?: number[];
  residual?: boolean;
  /** weights as a graph input instead of a constant */
  wInput?: boolean;
  strides?: number[];
  dilations?: number[];
  k?: number;
  /** expect the Winograd kernels (default true) */
  wino?: boolean;
}

/** One graph computing every case from its own inputs (one C compile for all of them). */
function build(cases: readonly ConvCase[], seed: number): { model: Model; inputs: Tensor[] } {
  const { g, inputs, rand, input, konst } = graphBuilder("winograd", seed);
  cases.forEach((cs, ci) => {
    const n = cs.n ?? 1;
    const group = cs.group ?? 1;
    const k = cs.k ?? 3;
    const pads = cs.pads ?? [1, 1, 1, 1];
    const st = cs.strides ?? [1, 1];
    const dl = cs.dilations ?? [1, 1];
    const oh = Math.floor((cs.h + pads[0]! + pads[2]! - ((k - 1) * dl[0]! + 1)) / st[0]!) + 1;
    const ow = Math.floor((cs.w + pads[1]! + pads[3]! - ((k - 1) * dl[1]! + 1)) / st[1]!) + 1;
    const cg = cs.c / group;
    // He-like scale so outputs stay O(1) whatever the fan-in (the error bound is relative to max|y|)
    const scale = Math.sqrt(3 / (cg * k * k));
    const x = input(`x${ci}`, rand([n, cs.c, cs.h, cs.w], 2));
    const wt = rand([cs.m, cg, k, k], scale);
    const w = cs.wInput ? input(`w${ci}`, wt) : konst(`w${ci}`, wt);
    const b = cs.bias === false ? undefined : konst(`b${ci}`, rand([cs.m], 1));
    const res = cs.residual ? input(`res${ci}`, rand([n, cs.m, oh, ow], 2)) : undefined;
    const y = new Value(`y${ci}`, tensorType("f32", [n, cs.m, oh, ow]));
    const attrs = { pads, strides: st, dilations: dl, group, kernel_shape: [k, k] };
    g.nodes.push(cs.act === undefined && !res
      ? new Node("Conv", `conv${ci}`, [x, w, b], [y], attrs)
      : new Node("FusedConv", `conv${ci}`, [x, w, b, res], [y], { ...attrs, activation: cs.act ?? "", activation_params: cs.params ?? [] }));
    g.outputs.push(y);
  });
  return { model: { graph: g, opsets: { "": 17 }, format: "text", meta: {} }, inputs };
}

/** For each case of a graph from `build`, whether its lowered conv runs the Winograd kernels. */
function usesWinograd(model: Model, count: number): boolean[] {
  optimize(model.graph, "O2", { ...DEFAULT_PASS_CONTEXT, target: C_TARGET.caps });
  const p = lower(model.graph, C_TARGET.renderer());
  return Array.from({ length: count }, (_, ci) => p.kernels.some((k) => k.source.includes(`'conv${ci}': winograd `)));
}

/** Runs the cases on C and checks each against the interpreter and its expected path. */
async function check(cases: readonly ConvCase[], seed = 1, cflags: readonly string[] = ["-O2", "-march=native"]): Promise<void> {
  const { model, inputs } = build(cases, seed);
  const want = interpret(model.graph, inputs) as Tensor[];
  await new Promise((r) => setImmediate(r)); // let vitest's worker talk between long synchronous steps
  const wino = usesWinograd(build(cases, seed).model, cases.length);
  const got = runOnC(model, inputs, { cflags }) as Tensor[];
  cases.forEach((cs, ci) => {
    const w = want[ci]!;
    const a = got[ci]!;
    expect(wino[ci], `${cs.name}: takes the Winograd path`).toBe(cs.wino ?? true);
    expect(a.shape, cs.name).toEqual(w.shape);
    let err = 0;
    let ref = 0;
    for (let i = 0; i < w.size; i++) {
      expect(Number.isFinite(a.data[i]!), `${cs.name}: element ${i}`).toBe(true);
      err = Math.max(err, Math.abs(a.data[i]! - w.data[i]!));
      ref = Math.max(ref, Math.abs(w.data[i]!));
    }
    const bound = 1e-4 * ref + 1e-5;
    expect(err, `${cs.name}: max error ${err.toExponential(2)} vs bound ${bound.toExponential(2)}`).toBeLessThanOrEqual(bound);
  });
}

const SMALL: ConvCase[] = [
  { name: "c3 m16 13x13 pad1", c: 3, m: 16, h: 13, w: 13 },
  { name: "c16 m16 7x7 pad0", c: 16, m: 16, h: 7, w: 7, pads: [0, 0, 0, 0] },
  { name: "c16 m3 1x1 image pad1", c: 16, m: 3, h: 1, w: 1 },
  { name: "c16 m64 14x14 relu", c: 16, m: 64, h: 14, w: 14, act: "Relu" },
  { name: "c64 m16 9x23 no bias", c: 64, m: 16, h: 9, w: 23, bias: false },
  { name: "c128 m128 14x14 clip", c: 128, m: 128, h: 14, w: 14, act: "Clip", params: [-0.5, 0.75] },
  { name: "c128 m64 17x11 asymmetric pads residual", c: 128, m: 64, h: 17, w: 11, pads: [0, 2, 1, 0], residual: true },
  { name: "c16 m16 batch 2 groups 2 13x14 silu", n: 2, c: 16, m: 16, h: 13, w: 14, group: 2, act: "SiLU" },
  { name: "c32 m48 groups 2 pads 2 (beyond the kernel)", c: 32, m: 48, h: 10, w: 12, group: 2, pads: [2, 2, 2, 2] },
  { name: "c32 m40 groups 2 31x30 (64 tiles: separate weight step)", c: 32, m: 40, h: 31, w: 30, group: 2, act: "LeakyRelu", params: [0.1] },
];

const LARGE: ConvCase[] = [
  { name: "c64 m64 56x56 relu residual", c: 64, m: 64, h: 56, w: 56, act: "Relu", residual: true },
  { name: "c64 m128 batch 2 28x28 weights as input", n: 2, c: 64, m: 128, h: 28, w: 28, wInput: true, act: "Relu" },
  { name: "c256 m256 7x7 residual relu", c: 256, m: 256, h: 7, w: 7, act: "Relu", residual: true },
  { name: "c512 m512 14x14 (error at large fan-in)", c: 512, m: 512, h: 14, w: 14 },
];

/** Not eligible: these must keep the im2col path (and still be right). */
const DECLINED: ConvCase[] = [
  { name: "stride 2 declines", c: 16, m: 16, h: 13, w: 13, strides: [2, 2], wino: false },
  { name: "dilation 2 declines", c: 16, m: 16, h: 13, w: 13, dilations: [2, 2], pads: [2, 2, 2, 2], wino: false },
  { name: "5x5 declines", c: 16, m: 16, h: 13, w: 13, k: 5, pads: [2, 2, 2, 2], wino: false },
  { name: "depthwise declines", c: 16, m: 16, h: 13, w: 13, group: 16, wino: false },
];

describe("Winograd conv on the C target (forced)", () => {
  const saved = process.env.INFC_WINOGRAD;
  beforeAll(() => {
    process.env.INFC_WINOGRAD = "force";
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.INFC_WINOGRAD;
    else process.env.INFC_WINOGRAD = saved;
  });
  it("small and odd shapes: 1×1..31×30 images, 3..128 channels, pads 0/1/2/asymmetric, groups, batch, epilogues", () => check(SMALL), 300_000);
  it("ResNet-sized shapes: 56×56×64, batch 2 28×28 with weights as an input, 7×7×256, 14×14×512", () => check(LARGE), 300_000);
  it("convs it must decline: stride 2, dilation 2, 5×5, depthwise", () => check(DECLINED), 300_000);
  // the packed panels are INFC_NR wide and the fused GEMM tiles INFC_MR-aligned for every build:
  // AVX2 (6×16 micro-kernel) and the portable one without vector extensions
  it("small shapes on an AVX2 build", () => check(SMALL.slice(0, 9), 2, ["-O2", "-mavx2", "-mfma"]), 300_000);
  it("small shapes on the portable build (no vector extensions)", () => check(SMALL.slice(0, 9), 3, ["-O1", "-DINFC_NO_VECTOR"]), 300_000);
});

describe("Winograd size heuristic", () => {
  it("takes the large ResNet convs and leaves 7×7 and thin ones to im2col", () => {
    const saved = process.env.INFC_WINOGRAD;
    delete process.env.INFC_WINOGRAD;
    try {
      const uses = (cs: ConvCase): boolean => usesWinograd(build([cs], 1).model, 1)[0]!;
      expect(uses({ name: "l1", c: 64, m: 64, h: 56, w: 56 })).toBe(true);
      expect(uses({ name: "l2", c: 128, m: 128, h: 28, w: 28 })).toBe(true);
      expect(uses({ name: "l3", c: 256, m: 256, h: 14, w: 14 })).toBe(true);
      expect(uses({ name: "l4", c: 512, m: 512, h: 7, w: 7 })).toBe(false); // 4 tiles
      expect(uses({ name: "l4 batch 8", n: 8, c: 512, m: 512, h: 7, w: 7 })).toBe(false); // U: 37.7 MB
      expect(uses({ name: "thin", c: 3, m: 64, h: 56, w: 56 })).toBe(false);
      process.env.INFC_WINOGRAD = "0";
      expect(uses({ name: "off", c: 64, m: 64, h: 56, w: 56 })).toBe(false);
    } finally {
      if (saved === undefined) delete process.env.INFC_WINOGRAD;
      else process.env.INFC_WINOGRAD = saved;
    }
  });
});
