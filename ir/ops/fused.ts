/**
 * Canonical ops: fused epilogues (built by passes/fuse-epilogue.ts, never imported from ONNX).
 *
 * A fused op is a linear op (Conv, MatMul, Gemm) whose output goes straight through an optional
 * bias, an optional residual and an optional activation, in this order:
 *
 *   y = act(op(x, w) + bias + residual)
 *
 * (ResNet's "add the shortcut, then Relu"; MobileNet's residual Add is the same with act ""). The
 * bias is Conv's B (per output channel), Gemm's C, or for FusedMatMul an input that broadcasts to
 * the output without changing its shape (in practice a per-column vector). The residual has the
 * output's shape.
 *
 * `activation`: "" (none), "Relu", "Clip" (activation_params [min, max]), "Sigmoid", "HardSwish",
 * "SiLU" (x·Sigmoid(x)), "Gelu" (exact, erf), "Tanh", "LeakyRelu" (activation_params [alpha]).
 *
 * The reference implementations compose the reference implementations of the unfused ops (Conv,
 * Add, Relu, ...), each rounding to the dtype as the unfused graph does, so the interpreter gives
 * exactly what the unfused graph gives (except Gelu, which the unfused graph may spell as five
 * nodes).
 *
 * FusedConv's `channels_last` (default 0; set only by the layout pass, passes/layout.ts): 1 makes
 * a 2-D convolution channels-last — input x [N,H,W,C], residual and output [N,OH,OW,M]. The weight
 * keeps ONNX's [M,C/group,KH,KW] (a kernel that wants another order repacks the constant weight at
 * compile time, as the NCHW kernels already pack theirs; the weight may also be computed) and the
 * bias stays [M]. Inference and the reference transpose x and the residual to NCHW, apply the NCHW
 * FusedConv and transpose the output back (helpers in nn-pool.ts), so the result is bit-identical
 * to the NCHW op between transposes. channels_last must be 0 or 1, and 1 only for rank-4 inputs.
 */
import { type AttrValue, Node, type ValueType } from "../graph.ts";
import { type AttrSpec, type InferCtx, type OpInfo, type RValue, type RunCtx, attrReader } from "../op-types.ts";
import { Tensor } from "../tensor.ts";
import { CONV_OPS } from "./nn-conv.ts";
import { ELEMENTWISE_OPS } from "./elementwise.ts";
import { fail, tensorArg } from "./support.ts";
import { CHANNELS_LAST_ATTRS, inferChannelsLast, isChannelsLast, runChannelsLast } from "./nn-pool.ts";

/** The activations a fused op may apply, with how many activation_params each takes. */
export const FUSED_ACTIVATIONS: Readonly<Record<string, number>> = {
  "": 0, Relu: 0, Clip: 2, Sigmoid: 0, HardSwish: 0, SiLU: 0, Gelu: 0, Tanh: 0, LeakyRelu: 1,
};

const EPILOGUE_ATTRS = {
  activation: { type: "string", default: "" },
  activation_params: { type: "floats", default: [] },
} satisfies Record<string, AttrSpec>;

type Base = "Conv" | "MatMul" | "Gemm";
const BASE_INFO = { Conv: CONV_OPS.Conv, MatMul: CONV_OPS.MatMul, Gemm: CONV_OPS.Gemm } as const;
const EW = ELEMENTWISE_OPS as Readonly<Record<string, OpInfo>>;

/** The attributes of the fused node that belong to the base op. */
function baseAttrs(node: Node, base: Base): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const k of Object.keys(BASE_INFO[base].attrs)) if (node.attrs[k] !== undefined) out[k] = node.attrs[k];
  return out;
}

/** A RunCtx for the reference implementation of `op` with attributes `attrs`. */
function subCtx(ctx: RunCtx, op: string, info: OpInfo, attrs: Record<string, AttrValue>): RunCtx {
  const node = new Node(op as never, ctx.node.name, [], [], attrs);
  return { ...attrReader(node, info.attrs, op), node, runGraph: ctx.runGraph, outputType: ctx.outputType };
}

function runEw(ctx: RunCtx, op: string, ins: readonly (RValue | undefined)[], attrs: Record<string, AttrValue> = {}): Tensor {
  const info = EW[op];
  if (!info) return fail(ctx.node, `no reference implementation for ${op}`);
  return tensorArg(ctx.node, info.run(ins, subCtx(ctx, op, info, attrs))[0], 0);
}

/** act(y) by the unfused ops' reference implementations. */
export function applyActivation(ctx: RunCtx, y: Tensor, act: string, params: readonly number[]): Tensor {
  const scalar = (v: number): Tensor => {
    const t = Tensor.zeros(y.dtype, []);
    t.data[0] = v;
    return t;
  };
  switch (act) {
    case "": return y;
    case "Relu": case "Sigmoid": case "HardSwish": case "Tanh": return runEw(ctx, act, [y]);
    case "Gelu": return runEw(ctx, "Gelu", [y], { approximate: "none" });
    case "Clip": return runEw(ctx, "Clip", [y, scalar(params[0]!), scalar(params[1]!)]);
    case "LeakyRelu": return runEw(ctx, "LeakyRelu", [y], { alpha: params[0]! });
    case "SiLU": return runEw(ctx, "Mul", [y, runEw(ctx, "Sigmoid", [y])]);
    default: return fail(ctx.node, `unknown activation '${act}'`);
  }
}

function checkActivation(node: Node, act: string, params: readonly number[]): void {
  const k = FUSED_ACTIVATIONS[act];
  if (k === undefined) fail(node, `unknown activation '${act}' (expected one of ${Object.keys(FUSED_ACTIVATIONS).map((s) => `"${s}"`).join(", ")})`);
  if (params.length !== k) fail(node, `activation ${act || "(none)"} expects ${k} activation_params, found ${params.length}`);
}

/**
 * A fused op over `base`: inputs are the base op's first two, then the bias (`biasIndex` = 2),
 * then the residual (3).
 */
function fused(base: Base): OpInfo {
  const info = BASE_INFO[base];
  return {
    attrs: { ...info.attrs, ...EPILOGUE_ATTRS, ...(base === "Conv" ? CHANNELS_LAST_ATTRS : {}) },
    inputs: [2, 4],
    outputs: [1, 1],
    infer: (ctx: InferCtx): ValueType[] => {
      if (base === "Conv") {
        const x = ctx.inputs[0];
        if (isChannelsLast(ctx.node, ctx, x?.kind === "tensor" ? x.shape?.length : undefined)) return inferChannelsLast(ctx, [0, 3], inferNchw);
      }
      return inferNchw(ctx);
    },
    run: (ins, ctx) => {
      if (base === "Conv") {
        const x = ins[0];
        if (isChannelsLast(ctx.node, ctx, x instanceof Tensor ? x.rank : undefined)) return runChannelsLast(ctx.node, ins, [0, 3], (nchw) => runNchw(nchw, ctx));
      }
      return runNchw(ins, ctx);
    },
    ...(info.flops ? { flops: info.flops } : {}),
  };

  /** The NCHW op (channels_last 0). */
  function inferNchw(ctx: InferCtx): ValueType[] {
    checkActivation(ctx.node, ctx.string("activation"), ctx.floats("activation_params"));
    // MatMul's bias is not an input of MatMul: infer on the first two inputs only
    const n = base === "MatMul" ? 2 : 3;
    const sub: InferCtx = { ...ctx, inputs: ctx.inputs.slice(0, n), constOf: (i) => (i < n ? ctx.constOf(i) : undefined) };
    const out = info.infer(sub);
    const y = out[0];
    const res = ctx.inputs[3];
    if (y?.kind === "tensor" && y.shape && res?.kind === "tensor" && res.shape) {
      const ok = res.shape.length === y.shape.length && res.shape.every((d, i) => d === "?" || y.shape![i] === "?" || d === y.shape![i]);
      if (!ok) fail(ctx.node, `residual expected shape [${y.shape.join(",")}], found [${res.shape.join(",")}]`);
    }
    return out;
  }

  function runNchw(ins: readonly (RValue | undefined)[], ctx: RunCtx): (RValue | undefined)[] {
    const act = ctx.string("activation");
    const params = ctx.floats("activation_params");
    checkActivation(ctx.node, act, params);
    const baseIns = base === "MatMul" ? ins.slice(0, 2) : ins.slice(0, 3);
    let y = tensorArg(ctx.node, info.run(baseIns, subCtx(ctx, base, info, baseAttrs(ctx.node, base)))[0], 0);
    const shape = y.shape;
    if (base === "MatMul" && ins[2] !== undefined) y = runEw(ctx, "Add", [y, ins[2]]);
    if (ins[3] !== undefined) y = runEw(ctx, "Add", [y, ins[3]]);
    if (y.shape.length !== shape.length || y.shape.some((d, i) => d !== shape[i])) {
      fail(ctx.node, `bias and residual must not change the output shape [${shape.join(",")}], found [${y.shape.join(",")}]`);
    }
    return [applyActivation(ctx, y, act, params)];
  }
}

export const FUSED_OPS = {
  FusedConv: fused("Conv"),
  FusedMatMul: fused("MatMul"),
  FusedGemm: fused("Gemm"),
} satisfies Record<string, OpInfo>;
