/**
 * The f32 conv fast paths of the C target (codegen/kernels/nn-f32.ts) at the sizes of MobileNetV2,
 * EfficientNet-B0 and ShuffleNetV2, with random constant weights (as in the real models), against
 * the reference interpreter: the blocked depthwise kernel (wide rows and narrow flat planes,
 * strides 1 and 2, 3×3 and 5×5, register and post-row activations), 1×1 convs reading the
 * activation in place (partial last panels, K beyond one block) or packed (7×7 images, whose last
 * column runs as dot products), the im2col packed once for small images with many output channels
 * (ResNet18's 7×7 stage; strides, groups, batch 2, dilation, asymmetric pads, 1-D and 3-D), and the
 * classifier GEMV with a 1000-column bias. Each graph is one
 * C compile, built with -O2 -march=native (the SIMD paths) and run with every task alone in
 * reverse order (runOnC's harness), so tasks must be independent. Each case also checks which
 * kernel its node lowered to. Tolerance: the C target's 1e-4·max|ref| + 1e-5 (c-kernels.test.ts).
 */
import { describe, expect, it } from "vitest";
import { type Model, Node, Value, tensorType } from "../ir/graph.ts";
import { interpret } from "../ir/interpret.ts";
import { Tensor } from "../ir/tensor.ts";
import { optimize } from "../passes/pipeline.ts";
import { DEFAULT_PASS_CONTEXT } from "../passes/pass.ts";
import { lower } from "../codegen/lower.ts";
import { C_TARGET } from "../targets/c.ts";
import { runOnC } from "../conformance/c-target.ts";
import { graphBuilder } from "./helpers/graph-builder.ts";

interface Case {
  name: string;
  /** input [N, C, ...spatial] (1 to 3 spatial dims; kernel, stride, pad and dilation the same in each) */
  x: number[];
  m: number;
  k: number;
  group?: number;
  stride?: number;
  pad?: number;
  /** all pads, begins then ends (instead of pad) */
  pads?: number[];
  dilation?: number;
  bias?: boolean;
  act?: string;
  params?: number[];
  residual?: boolean;
  /** the label the node's kernel must carry */
  kernel: string;
}

interface Gemv {
  name: string;
  k: number;
  n: number;
  act: string;
  kernel: string;
}

function build(cases: readonly Case[], gemvs: readonly Gemv[], seed: number): { model: Model; inputs: Tensor[] } {
  const { g, inputs, rand, input, konst } = graphBuilder("conv_fast", seed);
  cases.forEach((cs, i) => {
    const [n, c, ...sp] = cs.x as [number, number, ...number[]];
    const nsp = sp.length;
    const group = cs.group ?? 1;
    const s = cs.stride ?? 1;
    const d = cs.dilation ?? 1;
    const pads = cs.pads ?? new Array<number>(2 * nsp).fill(cs.pad ?? Math.floor(cs.k / 2));
    const out = sp.map((v, a) => Math.floor((v + pads[a]! + pads[a + nsp]! - d * (cs.k - 1) - 1) / s) + 1);
    const ks = new Array<number>(nsp).fill(cs.k);
    const fan = (c / group) * cs.k ** nsp;
    const x = input(`x${i}`, rand([n, c, ...sp], 2));
    const wt = konst(`w${i}`, rand([cs.m, c / group, ...ks], Math.sqrt(3 / fan)));
    const b = cs.bias === false ? undefined : konst(`b${i}`, rand([cs.m], 1));
    const res = cs.residual ? input(`r${i}`, rand([n, cs.m, ...out], 2)) : undefined;
    const y = new Value(`y${i}`, tensorType("f32", [n, cs.m, ...out]));
    const attrs = {
      group, kernel_shape: ks, pads, strides: ks.map(() => s), dilations: ks.map(() => d), activation: cs.act ?? "", activation_params: cs.params ?? [],
    };
    g.nodes.push(new Node("FusedConv", `case${i}`, [x, wt, b, res], [y], attrs));
    g.outputs.push(y);
  });
  gemvs.forEach((gv, i) => {
    const x = input(`v${i}`, rand([1, gv.k], 2));
    const w = konst(`vw${i}`, rand([gv.k, gv.n], Math.sqrt(3 / gv.k)));
    const b = konst(`vb${i}`, rand([gv.n], 1));
    const y = new Value(`vy${i}`, tensorType("f32", [1, gv.n]));
    g.nodes.push(new Node("FusedMatMul", `gemv${i}`, [x, w, b], [y], { activation: gv.act, activation_params: [] }));
    g.outputs.push(y);
  });
  return { model: { graph: g, opsets: { "": 17 }, format: "text", meta: {} }, inputs };
}

/** The label of the (first) kernel each named node lowered to. */
function kernelsOf(model: Model, names: readonly string[]): string[] {
  optimize(model.graph, "O2", { ...DEFAULT_PASS_CONTEXT, target: C_TARGET.caps });
  const p = lower(model.graph, C_TARGET.renderer());
  return names.map((nm) => {
    const re = new RegExp(`'${nm}': ([^*]*?) \\*/`);
    const k = p.kernels.find((kk) => re.test(kk.source));
    return k ? re.exec(k.source)![1]! : "(none)";
  });
}

async function check(cases: readonly Case[], gemvs: readonly Gemv[] = [], seed = 1): Promise<void> {
  const { model, inputs } = build(cases, gemvs, seed);
  const want = interpret(model.graph, inputs) as Tensor[];
  await new Promise((res) => setImmediate(res)); // let vitest's worker talk between long synchronous steps
  const labels = kernelsOf(build(cases, gemvs, seed).model, [...cases.map((_, i) => `case${i}`), ...gemvs.map((_, i) => `gemv${i}`)]);
  const got = runOnC(model, inputs, { cflags: ["-O2", "-march=native"] }) as Tensor[];
  [...cases.map((c) => ({ name: c.name, kernel: c.kernel })), ...gemvs].forEach((cs, i) => {
    const w = want[i]!;
    const a = got[i]!;
    expect(labels[i], `${cs.name}: kernel`).toBe(cs.kernel);
    expect(a.shape, cs.name).toEqual(w.shape);
    let err = 0;
    let ref = 0;
    for (let j = 0; j < w.size; j++) {
      expect(Number.isFinite(a.data[j]!), `${cs.name}: element ${j}`).toBe(true);
      err = Math.max(err, Math.abs(a.data[j]! - w.data[j]!));
      ref = Math.max(ref, Math.abs(w.data[j]!));
    }
    const bound = 1e-4 * ref + 1e-5;
    expect(err, `${cs.name}: max error ${err.toExponential(2)} vs bound ${bound.toExponential(2)}`).toBeLessThanOrEqual(bound);
  });
}

const MOBILENET: Case[] = [
  { name: "expand 1×1 16 → 96 on 112×112, Relu6", x: [1, 16, 112, 112], m: 96, k: 1, act: "Clip", params: [0, 6], kernel: "1x1 sgemm" },
  { name: "depthwise 3×3 s2 96 ch 112 → 56, Relu6", x: [1, 96, 112, 112], m: 96, k: 3, group: 96, stride: 2, act: "Clip", params: [0, 6], kernel: "depthwise rows" },
  { name: "depthwise 3×3 144 ch 56×56, Relu6", x: [1, 144, 56, 56], m: 144, k: 3, group: 144, act: "Clip", params: [0, 6], kernel: "depthwise rows" },
  { name: "project 1×1 144 → 24 on 56×56 with the block's residual", x: [1, 144, 56, 56], m: 24, k: 1, residual: true, kernel: "1x1 sgemm" },
  { name: "project 1×1 576 → 96 on 14×14 (3 K-blocks, 4 dot-product columns)", x: [1, 576, 14, 14], m: 96, k: 1, residual: true, kernel: "1x1 sgemm" },
  { name: "expand 1×1 160 → 960 on 7×7, Relu6 (packed, the 49th column as dot products)", x: [1, 160, 7, 7], m: 960, k: 1, act: "Clip", params: [0, 6], kernel: "pack" },
  { name: "depthwise 3×3 960 ch 7×7, Relu6 (flat)", x: [1, 960, 7, 7], m: 960, k: 3, group: 960, act: "Clip", params: [0, 6], kernel: "depthwise flat" },
  { name: "project 1×1 960 → 320 on 7×7, no bias", x: [1, 960, 7, 7], m: 320, k: 1, bias: false, kernel: "pack" },
];

const EFFICIENTNET: Case[] = [
  { name: "expand 1×1 24 → 144 on 56×56, SiLU", x: [1, 24, 56, 56], m: 144, k: 1, act: "SiLU", kernel: "1x1 sgemm" },
  { name: "depthwise 5×5 s2 144 ch 56 → 28, SiLU", x: [1, 144, 56, 56], m: 144, k: 5, group: 144, stride: 2, act: "SiLU", kernel: "depthwise rows" },
  { name: "depthwise 5×5 240 ch 28×28, SiLU", x: [1, 240, 28, 28], m: 240, k: 5, group: 240, act: "SiLU", kernel: "depthwise rows" },
  { name: "depthwise 5×5 672 ch 14×14, SiLU (flat)", x: [1, 672, 14, 14], m: 672, k: 5, group: 672, act: "SiLU", kernel: "depthwise flat" },
  { name: "depthwise 5×5 s2 672 ch 14 → 7, Sigmoid (flat, stride 2)", x: [1, 672, 14, 14], m: 672, k: 5, group: 672, stride: 2, act: "Sigmoid", kernel: "depthwise flat" },
  { name: "depthwise 3×3 64 ch 30×30, Tanh after the rows", x: [1, 64, 30, 30], m: 64, k: 3, group: 64, act: "Tanh", kernel: "depthwise rows" },
  { name: "depthwise 3×3 32 ch 13×13, Gelu and a residual (flat, copied out)", x: [1, 32, 13, 13], m: 32, k: 3, group: 32, act: "Gelu", residual: true, kernel: "depthwise flat" },
  { name: "expand 1×1 40 → 240 on 28×28, HardSwish", x: [1, 40, 28, 28], m: 240, k: 1, act: "HardSwish", kernel: "1x1 sgemm" },
  { name: "1×1 80 → 40 on 14×14, Gelu after the tiles", x: [1, 80, 14, 14], m: 40, k: 1, act: "Gelu", kernel: "1x1 sgemm" },
];

const SHUFFLENET: Case[] = [
  { name: "branch depthwise 3×3 s2 58 ch 56 → 28, no activation", x: [1, 58, 56, 56], m: 58, k: 3, group: 58, stride: 2, kernel: "depthwise rows" },
  { name: "branch 1×1 116 → 116 on 28×28, Relu", x: [1, 116, 28, 28], m: 116, k: 1, act: "Relu", kernel: "1x1 sgemm" },
  { name: "batch 2, depthwise 3×3 232 ch 14×14", x: [2, 232, 14, 14], m: 232, k: 3, group: 232, kernel: "depthwise flat" },
  { name: "batch 2, 1×1 232 → 232 on 14×14, LeakyRelu", x: [2, 232, 14, 14], m: 232, k: 1, act: "LeakyRelu", params: [0.1], kernel: "1x1 sgemm" },
];

// im2col packed once (nn-im2col.ts): small images whose GEMM splits the output channels
const SMALL_IMAGES: Case[] = [
  { name: "ResNet18 layer4 3×3 512 → 512 on 7×7 with the block's residual, Relu", x: [1, 512, 7, 7], m: 512, k: 3, act: "Relu", residual: true, kernel: "im2col pack" },
  { name: "ResNet18 layer4 3×3 s2 256 → 512, 14 → 7, Relu", x: [1, 256, 14, 14], m: 512, k: 3, stride: 2, act: "Relu", kernel: "im2col pack" },
  { name: "ResNet18 downsample 1×1 s2 256 → 512, 14 → 7, no bias", x: [1, 256, 14, 14], m: 512, k: 1, stride: 2, bias: false, kernel: "im2col pack" },
  { name: "batch 2, 3×3 256 → 512 on 7×7 with a residual, Relu", x: [2, 256, 7, 7], m: 512, k: 3, act: "Relu", residual: true, kernel: "im2col pack" },
  { name: "3×3 128 → 256 on 5×5, Relu6", x: [1, 128, 5, 5], m: 256, k: 3, act: "Clip", params: [0, 6], kernel: "im2col pack" },
  { name: "3×3 s2 128 → 256, 5×5 → 3×3, Tanh after the tiles", x: [1, 128, 5, 5], m: 256, k: 3, stride: 2, act: "Tanh", kernel: "im2col pack" },
  { name: "grouped (4) 3×3 128 → 256 on 7×7 with a residual", x: [1, 128, 7, 7], m: 256, k: 3, group: 4, residual: true, kernel: "im2col pack" },
  { name: "5×5 64 → 256 on 7×7, pad 2, Relu", x: [1, 64, 7, 7], m: 256, k: 5, act: "Relu", kernel: "im2col pack" },
  { name: "3×3 dilation 2 128 → 256 on 9×9, pads 1 2 2 1", x: [1, 128, 9, 9], m: 256, k: 3, dilation: 2, pads: [1, 2, 2, 1], kernel: "im2col pack" },
  { name: "3×3 s2 no padding 96 → 192 on 8×8 (the last input row and column unread)", x: [1, 96, 8, 8], m: 192, k: 3, stride: 2, pad: 0, kernel: "im2col pack" },
  { name: "1-D k3 s2 256 → 512 on 24", x: [1, 256, 24], m: 512, k: 3, stride: 2, act: "Relu", kernel: "im2col pack" },
  { name: "3-D 3×3×3 64 → 256 on 4×4×4", x: [1, 64, 4, 4, 4], m: 256, k: 3, residual: true, kernel: "im2col pack" },
  { name: "ResNet18 layer2 3×3 s2 64 → 128, 56 → 28, stays per task (the columns split)", x: [1, 64, 56, 56], m: 128, k: 3, stride: 2, act: "Relu", kernel: "im2col+sgemm" },
];

const CLASSIFIERS: Gemv[] = [
  { name: "MobileNetV2 classifier 1280 → 1000 with bias", k: 1280, n: 1000, act: "", kernel: "sgemv" },
  { name: "ShuffleNetV2 classifier 1024 → 1000 with bias, Relu", k: 1024, n: 1000, act: "Relu", kernel: "sgemv" },
];

describe("f32 conv fast paths on the C target, at model sizes", () => {
  it("MobileNetV2 layers: expand, depthwise s1/s2, project with residual, 7×7 stage", () => check(MOBILENET), 300_000);
  it("EfficientNet-B0 layers: SiLU, 5×5 depthwise wide and flat, HardSwish, post-row Tanh and Gelu", () => check(EFFICIENTNET), 300_000);
  it("ShuffleNetV2 layers and the classifier GEMVs", () => check(SHUFFLENET, CLASSIFIERS), 300_000);
  it("small images: im2col packed once (ResNet18's 7×7 stage, strides, groups, batch, dilation, 1-D, 3-D)", () => check(SMALL_IMAGES), 300_000);
});
