/**
 * C kernels: fused epilogues (FusedConv, FusedMatMul, FusedGemm; ir/ops/fused.ts),
 * y = act(op(x, w) + bias + residual).
 *
 * f32 runs the nn fast paths (nn-f32.ts) with the epilogue applied as each output block is stored
 * (in the GEMM's register rows, `infc_sg_row`, and in the depthwise / dot stores). Other dtypes, and
 * the few f32 variants without an epilogue hook, run the unfused base kernel and then one in-place
 * epilogue kernel over the output.
 */
import type { EmitNode, Emitter, KernelArg, KernelSpec, Lowered } from "../kernel.ts";
import type { OpKind } from "../../ir/ops.ts";
import { Conv, Gemm, MatMul, convGeometry } from "./nn.ts";
import { convF32, gemmF32Epi, matmulF32Epi } from "./nn-f32.ts";
import { type Epi, makeEpi } from "./nn-sgemm.ts";
import { ACTIVATION_OPS, activationExpr } from "./elementwise-math.ts";
import { broadcastOffset, taskLoop } from "./common.ts";

/** The epilogue of a fused node (res: "x3" when there is a residual). */
function epiOf(n: EmitNode): Epi {
  const act = n.attrs.string("activation");
  if (!ACTIVATION_OPS.has(act)) n.fail(`unknown activation '${act}'`);
  return makeEpi(act, n.attrs.floats("activation_params"), n.inputs[3] ? "x3" : undefined);
}

/** act(v) in the compute type of the output, as a C expression over a variable `v`. */
function actExpr(n: EmitNode, v: string): string {
  const { r } = n;
  const dt = n.outputs[0]!.dtype;
  const lit = (x: number): string => r.literal(dt, x);
  const fn = (f: string): string => r.fn(f, dt);
  const p = n.attrs.floats("activation_params");
  const sig = `(${lit(1)} / (${lit(1)} + ${fn("exp")}(-${v})))`;
  switch (n.attrs.string("activation")) {
    case "": return v;
    case "Relu": return `(${v} < ${lit(0)} ? ${lit(0)} : ${v})`;
    case "Clip": return `(${v} < ${lit(p[0]!)} ? ${lit(p[0]!)} : ${v} > ${lit(p[1]!)} ? ${lit(p[1]!)} : ${v})`;
    case "Sigmoid": return sig;
    case "HardSwish": return `(${v} * (${v} <= ${lit(-3)} ? ${lit(0)} : ${v} >= ${lit(3)} ? ${lit(1)} : ${v} / ${lit(6)} + ${lit(0.5)}))`;
    case "SiLU": return `(${v} * ${sig})`;
    case "Gelu": return `(${lit(0.5)} * ${v} * (${lit(1)} + ${fn("erf")}(${v} * ${lit(Math.SQRT1_2)})))`;
    case "Tanh": return `${fn("tanh")}(${v})`;
    case "LeakyRelu": return `(${v} < ${lit(0)} ? ${lit(p[0]!)} * ${v} : ${v})`;
    default: return n.fail(`unknown activation '${n.attrs.string("activation")}'`);
  }
}

/** The in-place epilogue kernel: y = act(y [+ bias] [+ residual]), any float dtype. */
function epilogueKernel(n: EmitNode, bias: boolean): KernelSpec {
  const { r } = n;
  const y = n.outputs[0]!;
  const dt = y.dtype;
  const ct = r.computeType(dt);
  const terms = [r.load(dt, "y0[i]")];
  const args: KernelArg[] = [];
  if (bias) {
    const b = n.inputs[2]!;
    terms.push(`(${ct})${r.load(b.dtype, `x2[${broadcastOffset(b.shape, y.shape, "i")}]`)}`);
    args.push({ name: "x2", ref: { kind: "in", index: 2 } });
  }
  if (n.inputs[3]) {
    terms.push(r.load(dt, "x3[i]"));
    args.push({ name: "x3", ref: { kind: "in", index: 3 } });
  }
  args.push({ name: "y0", ref: { kind: "out", index: 0 } });
  const f32 = dt === "f32" ? activationExpr(n.attrs.string("activation"), n.attrs.floats("activation_params"), "v") : undefined;
  const body = taskLoop(`const ${ct} v = ${terms.join(" + ")}; y0[i] = ${r.store(dt, f32 ? f32.expr : actExpr(n, "v"))};`);
  const helpers = [...new Set([...r.convHelpers(dt), ...(bias ? r.convHelpers(n.inputs[2]!.dtype) : []), ...(f32?.helpers ?? [])])];
  return { label: "epilogue", tasks: y.size, body, args, helpers };
}

/** The base op's kernels, then the epilogue kernel (when there is anything to apply). */
function unfused(n: EmitNode, base: Emitter, bias: boolean): Lowered {
  const lw = base(n);
  if ("alias" in lw) return n.fail("the base op of a fused op cannot be a view");
  if (n.outputs[0]!.size === 0) return lw;
  const nothing = !bias && !n.inputs[3] && n.attrs.string("activation") === "";
  return nothing ? lw : { ...lw, kernels: [...lw.kernels, epilogueKernel(n, bias)] };
}

const isF32 = (n: EmitNode, upto: number): boolean => n.inputs.slice(0, upto).every((t) => !t || t.dtype === "f32") && n.outputs[0]!.dtype === "f32";

const fusedConv: Emitter = (n) => {
  if (isF32(n, 4)) {
    const { g3, s } = convGeometry(n);
    return convF32(n, g3, s, epiOf(n));
  }
  return unfused(n, Conv, false);
};

const fusedMatMul: Emitter = (n) => {
  const bias = n.inputs[2] !== undefined;
  if (isF32(n, 4)) {
    const lw = matmulF32Epi(n, epiOf(n), bias);
    if (lw) return lw;
  }
  return unfused(n, MatMul, bias);
};

const fusedGemm: Emitter = (n) => {
  if (isF32(n, 4) && n.attrs.int("transA") === 0 && n.inputs[0]!.shape.length === 2 && n.inputs[1]!.shape.length === 2) {
    const lw = gemmF32Epi(n, epiOf(n));
    if (lw) return lw;
  }
  return unfused(n, Gemm, false);
};

export const FUSED_KERNELS: Partial<Record<OpKind, Emitter>> = {
  FusedConv: fusedConv, FusedMatMul: fusedMatMul, FusedGemm: fusedGemm,
};
