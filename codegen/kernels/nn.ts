/**
 * C kernels: nn family (MatMul, Gemm, Conv, ConvTranspose, ConvInteger, MatMulInteger).
 *
 * f32 runs on the packed SGEMM engine (nn-sgemm.ts) through nn-f32.ts; other dtypes use the
 * portable loops of nn-generic.ts.
 *
 * The kernels are NCHW only: a channels-last node (`channels_last` = 1, made by the layout pass
 * for targets that prefer NHWC) is rejected with a compile error naming it (rejectChannelsLast).
 */
import type { EmitNode, Emitter, Helper, Lowered } from "../kernel.ts";
import type { OpKind } from "../../ir/ops.ts";
import { geometry, intsOr, spatialAttrs } from "../../ir/ops/nn-common.ts";
import { type Geo3, genericConv, genericConvTranspose, genericGemm, genericMatmul, pad3 } from "./nn-generic.ts";
import { convF32, gemmF32, matmulF32 } from "./nn-f32.ts";
import { SGEMM_HELPERS } from "./nn-sgemm.ts";

/**
 * Fails (a compile error naming the node) when the node is channels-last: these kernels read and
 * write NCHW only. For every emitter of an op with a `channels_last` attribute (FusedConv through
 * convGeometry; MaxPool, AveragePool, GlobalAveragePool).
 */
export function rejectChannelsLast(n: EmitNode): void {
  if (n.attrs.has("channels_last") && n.attrs.int("channels_last") !== 0) {
    n.fail("channels_last=1 (NHWC) has no kernel on this target, whose kernels are NCHW only (the layout pass makes such nodes only for targets whose capabilities prefer layout nhwc)");
  }
}

export function convGeometry(n: EmitNode): { g3: Geo3; s: { N: number; C: number; M: number; group: number } } {
  rejectChannelsLast(n);
  const x = n.inputs[0]!;
  const w = n.inputs[1]!;
  if (x.shape.length < 3 || x.shape.length > 5) n.fail(`expected 1 to 3 spatial dimensions, found input rank ${x.shape.length}`);
  if (w.shape.length !== x.shape.length) n.fail(`weight expected rank ${x.shape.length}, found ${w.shape.length}`);
  const group = n.attrs.int("group");
  const C = x.shape[1]!;
  const M = w.shape[0]!;
  if (group < 1 || C % group !== 0 || M % group !== 0 || w.shape[1] !== C / group) n.fail(`group ${group} does not match channels ${C}, filters ${M} and weight [${w.shape.join(",")}]`);
  const inSp = x.shape.slice(2);
  const kernel = w.shape.slice(2);
  const at = spatialAttrs(n.node, n.attrs, inSp.length, kernel);
  if (at.kernel.some((k, i) => k !== kernel[i])) n.fail(`kernel_shape expected [${kernel.join(",")}] (the weight's), found [${at.kernel.join(",")}]`);
  const g = geometry(inSp, at);
  const outSp = n.outputs[0]!.shape.slice(2);
  if (outSp.some((d, i) => d !== g.out[i])) n.fail(`output shape [${outSp.join(",")}] does not match the geometry [${g.out.join(",")}]`);
  return {
    g3: { inp: pad3(inSp, 1), out: pad3(g.out, 1), k: pad3(kernel, 1), s: pad3(at.strides, 1), d: pad3(at.dilations, 1), p: pad3(g.padBegin, 0) },
    s: { N: x.shape[0]!, C, M, group },
  };
}

const conv: Emitter = (n) => {
  const { g3, s } = convGeometry(n);
  if (n.inputs[0]!.dtype === "f32" && n.inputs[1]!.dtype === "f32" && (!n.inputs[2] || n.inputs[2].dtype === "f32")) return convF32(n, g3, s);
  return { kernels: [genericConv(n, g3, s)] };
};

const convInteger: Emitter = (n) => {
  const { g3, s } = convGeometry(n);
  const xz = n.inputs[2];
  const wz = n.inputs[3];
  if (xz && xz.size !== 1) n.fail(`x_zero_point expected 1 element, found ${xz.size}`);
  if (wz && wz.size !== 1 && wz.size !== s.M) n.fail(`w_zero_point expected 1 or ${s.M} elements, found ${wz.size}`);
  return {
    kernels: [genericConv(n, g3, s, {
      accType: "int32_t",
      ...(xz ? { xz: "x2[0]" } : {}),
      ...(wz ? { wz: (m: string) => (wz.size === 1 ? "x3[0]" : `x3[${m}]`) } : {}),
    })],
  };
};

const convTranspose: Emitter = (n): Lowered => {
  const x = n.inputs[0]!;
  const w = n.inputs[1]!;
  const { attrs } = n;
  if (x.shape.length < 3 || x.shape.length > 5 || w.shape.length !== x.shape.length) n.fail(`input and weight expected equal ranks 3..5, found ${x.shape.length} and ${w.shape.length}`);
  const group = attrs.int("group");
  const C = x.shape[1]!;
  if (w.shape[0] !== C || C % group !== 0) n.fail(`weight dim 0 expected ${C} (divisible by group ${group}), found ${w.shape[0]}`);
  const Mg = w.shape[1]!;
  const M = Mg * group;
  const inSp = x.shape.slice(2);
  const nsp = inSp.length;
  const kernel = w.shape.slice(2);
  const strides = intsOr(attrs, "strides", nsp, 1);
  const dil = intsOr(attrs, "dilations", nsp, 1);
  const outPad = intsOr(attrs, "output_padding", nsp, 0);
  const pads = intsOr(attrs, "pads", 2 * nsp, 0);
  const autoPad = attrs.has("auto_pad") ? attrs.string("auto_pad") : "NOTSET";
  let outShape: number[] | undefined;
  if (attrs.has("output_shape") && attrs.ints("output_shape").length > 0) {
    const os = attrs.ints("output_shape");
    outShape = os.slice(os.length - nsp);
  }
  const out: number[] = [];
  const padBegin: number[] = [];
  for (let i = 0; i < nsp; i++) {
    const d = inSp[i]!;
    const full = strides[i]! * (d - 1) + outPad[i]! + (kernel[i]! - 1) * dil[i]! + 1;
    const same = autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER";
    if (outShape || same) {
      const o = outShape ? outShape[i]! : d * strides[i]!;
      const total = full - o;
      const half = Math.floor(total / 2);
      padBegin.push(autoPad === "SAME_UPPER" ? half : autoPad === "SAME_LOWER" ? total - half : autoPad === "VALID" ? 0 : pads[i]!);
      out.push(o);
    } else if (autoPad === "VALID") {
      out.push(full);
      padBegin.push(0);
    } else {
      out.push(full - pads[i]! - pads[i + nsp]!);
      padBegin.push(pads[i]!);
    }
  }
  const ys = n.outputs[0]!.shape.slice(2);
  if (ys.some((v, i) => v !== out[i])) n.fail(`output shape [${ys.join(",")}] does not match the geometry [${out.join(",")}]`);
  const g3: Geo3 = { inp: pad3(inSp, 1), out: pad3(out, 1), k: pad3(kernel, 1), s: pad3(strides, 1), d: pad3(dil, 1), p: pad3(padBegin, 0) };
  return { kernels: [genericConvTranspose(n, g3, { N: x.shape[0]!, C, M, group })] };
};

const matmul: Emitter = (n) => {
  if (n.inputs[0]!.dtype === "f32" && n.inputs[1]!.dtype === "f32") return matmulF32(n);
  return genericMatmul(n);
};

const matmulInteger: Emitter = (n) => {
  const az = n.inputs[2];
  const bz = n.inputs[3];
  return genericMatmul(n, {
    accType: "int32_t",
    ...(az ? { za: (i: string) => (az.size === 1 ? "x2[0]" : `x2[${i}]`) } : {}),
    ...(bz ? { zb: (j: string) => (bz.size === 1 ? "x3[0]" : `x3[${j}]`) } : {}),
  });
};

const gemm: Emitter = (n) => {
  const a = n.inputs[0]!;
  const b = n.inputs[1]!;
  const c = n.inputs[2];
  if (a.shape.length !== 2 || b.shape.length !== 2) n.fail(`A and B expected rank 2, found ${a.shape.length} and ${b.shape.length}`);
  if (a.dtype === "f32" && b.dtype === "f32" && (!c || c.dtype === "f32") && n.attrs.int("transA") === 0) return gemmF32(n);
  return genericGemm(n);
};

export const MatMul = matmul;
export const Gemm = gemm;
export const Conv = conv;
export const ConvTranspose = convTranspose;
export const ConvInteger = convInteger;
export const MatMulInteger = matmulInteger;

export const NN_KERNELS: Partial<Record<OpKind, Emitter>> = {
  MatMul, Gemm, Conv, ConvTranspose, ConvInteger, MatMulInteger,
};

export const NN_HELPERS: Record<string, Helper> = { ...SGEMM_HELPERS };
