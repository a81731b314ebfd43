/**
 * Canonical ops of the nn family: pooling, unpooling, Col2Im and region pooling.
 *
 * Channels-last: MaxPool, AveragePool and GlobalAveragePool (and FusedConv, ir/ops/fused.ts) take
 * an integer attribute `channels_last` (default 0; never set by the ONNX importer, only by the
 * layout pass, passes/layout.ts). With channels_last=1 the input is a rank-4 [N,H,W,C] tensor and
 * the output is [N,OH,OW,C] — the NCHW op's input and output transposed by [0,2,3,1]; every other
 * attribute keeps its meaning (kernel_shape, pads, strides are over (H, W)). Inference and the
 * reference implementation transpose to NCHW, apply the NCHW op and transpose back, so a
 * channels-last node is bit-identical to the NCHW op between two transposes. MaxPool's Indices
 * output (flat NCHW offsets) is not defined for channels_last.
 */
import type { Dim, Node, ValueType } from "../graph.ts";
import type { AttrReader, AttrSpec, InferCtx, OpInfo, RValue, RunCtx } from "../op-types.ts";
import { Tensor } from "../tensor.ts";
import { fail, makeTensor, prod, tensorArg, optTensorArg } from "./support.ts";
import { transposeView } from "./shape-util.ts";
import {
  type Win3, checkLen, col2im, fromF64, geometry, inferSpatial, intsOr, needTensorIn, spatialAttrs, toF64, win3,
} from "./nn-common.ts";

const tensorOut = (dtype: Extract<ValueType, { kind: "tensor" }>["dtype"], shape: readonly Dim[] | undefined): ValueType => ({ kind: "tensor", dtype, shape });

type PoolKind = "avg" | "max" | "lp";

// ---------------------------------------------------------------------------------------------
// channels_last

/** The `channels_last` attribute of the ops that have one. */
export const CHANNELS_LAST_ATTRS = { channels_last: { type: "int", default: 0 } } satisfies Record<string, AttrSpec>;

/** [N,H,W,C] → [N,C,H,W] and back, as Transpose perms. */
export const NHWC_TO_NCHW: readonly number[] = [0, 3, 1, 2];
export const NCHW_TO_NHWC: readonly number[] = [0, 2, 3, 1];

/**
 * Whether the node is channels-last: its `channels_last` attribute, checked to be 0 or 1, and 1
 * only with a rank-4 input (`rank`: the input's rank, undefined when unknown).
 */
export function isChannelsLast(node: Node, a: AttrReader, rank: number | undefined): boolean {
  const v = a.int("channels_last");
  if (v !== 0 && v !== 1) fail(node, `channels_last expected 0 or 1, found ${v}`);
  if (v === 1 && rank !== undefined && rank !== 4) fail(node, `channels_last expects a rank-4 input [N,H,W,C], found rank ${rank}`);
  return v === 1;
}

/** A tensor type with its shape permuted (out[i] = in[perm[i]]); other types unchanged. */
export function permuteType(t: ValueType | undefined, perm: readonly number[]): ValueType | undefined {
  if (t?.kind !== "tensor" || !t.shape || t.shape.length !== perm.length) return t;
  const s = t.shape;
  return { kind: "tensor", dtype: t.dtype, shape: perm.map((p) => s[p]!) };
}

/**
 * Inference of a channels-last node through the NCHW op's: inputs `which` are permuted to NCHW,
 * the first output back to NHWC.
 */
export function inferChannelsLast(ctx: InferCtx, which: readonly number[], infer: (ctx: InferCtx) => ValueType[]): ValueType[] {
  const inputs = ctx.inputs.map((t, i) => (which.includes(i) ? permuteType(t, NHWC_TO_NCHW) : t));
  const outs = infer({ ...ctx, inputs });
  return outs.map((t, i) => (i === 0 ? permuteType(t, NCHW_TO_NHWC)! : t));
}

/**
 * The reference of a channels-last node through the NCHW op's: tensor inputs `which` are
 * transposed to NCHW, the first output back to NHWC (exact: transposes only move elements).
 */
export function runChannelsLast(node: Node, ins: readonly (RValue | undefined)[], which: readonly number[], run: (ins: readonly (RValue | undefined)[]) => (RValue | undefined)[]): (RValue | undefined)[] {
  const nchw = ins.map((v, i) => {
    if (!which.includes(i) || v === undefined) return v;
    const t = tensorArg(node, v, i);
    if (t.rank !== 4) fail(node, `channels_last expects rank-4 tensors, found input ${i} of rank ${t.rank}`);
    return transposeView(t, t.shape, NHWC_TO_NCHW);
  });
  const outs = run(nchw);
  return outs.map((v, i) => {
    if (i !== 0) return v;
    const t = tensorArg(node, v, 0);
    return transposeView(t, t.shape, NCHW_TO_NHWC);
  });
}

/** An NCHW pool op extended with `channels_last` (the input is input 0). */
function withChannelsLast(info: OpInfo, indices = false): OpInfo {
  const rankOf = (t: ValueType | undefined): number | undefined => (t?.kind === "tensor" ? t.shape?.length : undefined);
  const noIndices = (node: Node, outputs: number): void => {
    if (indices && outputs > 1) fail(node, "channels_last does not support the Indices output");
  };
  return {
    ...info,
    attrs: { ...info.attrs, ...CHANNELS_LAST_ATTRS },
    infer: (ctx) => {
      if (!isChannelsLast(ctx.node, ctx, rankOf(ctx.inputs[0]))) return info.infer(ctx);
      noIndices(ctx.node, ctx.outputCount);
      return inferChannelsLast(ctx, [0], info.infer);
    },
    run: (ins, ctx) => {
      const x = ins[0];
      if (!isChannelsLast(ctx.node, ctx, x instanceof Tensor ? x.rank : undefined)) return info.run(ins, ctx);
      noIndices(ctx.node, ctx.node.outputs.length);
      return runChannelsLast(ctx.node, ins, [0], (nchw) => info.run(nchw, ctx));
    },
  };
}

function inferPool(ctx: InferCtx, withIndices: boolean): ValueType[] {
  const x = needTensorIn(ctx, 0);
  let shape: Dim[] | undefined;
  if (x.shape) {
    const nsp = x.shape.length - 2;
    if (nsp < 1) fail(ctx.node, `input expected rank >= 3, found ${x.shape.length}`);
    const at = spatialAttrs(ctx.node, ctx, nsp, undefined);
    shape = [x.shape[0]!, x.shape[1]!, ...inferSpatial(x.shape.slice(2), at)];
  }
  const outs = [tensorOut(x.dtype, shape)];
  if (withIndices) outs.push(tensorOut("i64", shape));
  return outs;
}

/** Generic windowed pooling over spatial ranks 1..3. */
function pool(node: Node, ctx: RunCtx, x: Tensor, kind: PoolKind, wantIndices: boolean): Tensor[] {
  if (x.rank < 3) fail(node, `input expected rank >= 3, found ${x.rank}`);
  const inSp = x.shape.slice(2);
  const nsp = inSp.length;
  const at = spatialAttrs(node, ctx, nsp, undefined);
  const g = geometry(inSp, at);
  const w = win3(node, inSp, g.out, at.kernel, at.strides, at.dilations, g.padBegin);
  const padEnd3 = [...new Array<number>(3 - nsp).fill(0), ...g.padEnd];
  const countPad = kind !== "max" && ctx.has("count_include_pad") && ctx.int("count_include_pad") !== 0;
  const p = kind === "lp" ? ctx.int("p") : 2;
  const colMajor = wantIndices && ctx.int("storage_order") === 1;
  const NC = x.shape[0]! * x.shape[1]!;
  const [ID, IH, IW] = w.inp;
  const [OD, OH, OW] = w.out;
  const [KD, KH, KW] = w.k;
  const [sd, sh, sw] = w.s;
  const [dd, dh, dw] = w.d;
  const [pd, ph, pw] = w.p;
  const plane = ID * IH * IW;
  const P = OD * OH * OW;
  const xd = x.data;
  const out = new Float64Array(NC * P);
  const idx = wantIndices ? new Float64Array(NC * P) : undefined;
  // per-dim valid taps for each output index: [lo, hi) tap range inside the input, and the count inside the padded input
  const taps = (O: number, I: number, K: number, s: number, d: number, pb: number, pe: number) => {
    const lo = new Int32Array(O);
    const hi = new Int32Array(O);
    const padCount = new Int32Array(O);
    for (let o = 0; o < O; o++) {
      let l = K;
      let h = 0;
      let pc = 0;
      for (let k = 0; k < K; k++) {
        const i = o * s + k * d - pb;
        if (i >= 0 && i < I) {
          if (k < l) l = k;
          h = k + 1;
        }
        if (i >= -pb && i < I + pe) pc++;
      }
      lo[o] = l;
      hi[o] = Math.max(l, h);
      padCount[o] = pc;
    }
    return { lo, hi, padCount };
  };
  const tD = taps(OD, ID, KD, sd, dd, pd, padEnd3[0]!);
  const tH = taps(OH, IH, KH, sh, dh, ph, padEnd3[1]!);
  const tW = taps(OW, IW, KW, sw, dw, pw, padEnd3[2]!);
  for (let nc = 0; nc < NC; nc++) {
    const xo = nc * plane;
    let o = nc * P;
    for (let od = 0; od < OD; od++) {
      for (let oh = 0; oh < OH; oh++) {
        for (let ow = 0; ow < OW; ow++, o++) {
          let acc = kind === "max" ? -Infinity : 0;
          let best = -1;
          let cnt = 0;
          for (let kd = tD.lo[od]!; kd < tD.hi[od]!; kd++) {
            const id = od * sd + kd * dd - pd;
            if (id < 0 || id >= ID) continue;
            for (let kh = tH.lo[oh]!; kh < tH.hi[oh]!; kh++) {
              const ih = oh * sh + kh * dh - ph;
              if (ih < 0 || ih >= IH) continue;
              const row = (id * IH + ih) * IW;
              for (let kw = tW.lo[ow]!; kw < tW.hi[ow]!; kw++) {
                const iw = ow * sw + kw * dw - pw;
                if (iw < 0 || iw >= IW) continue;
                const v = xd[xo + row + iw]!;
                cnt++;
                if (kind === "max") {
                  if (v > acc || best < 0) {
                    acc = v;
                    best = row + iw;
                  }
                } else if (kind === "avg") acc += v;
                else acc += Math.pow(Math.abs(v), p);
              }
            }
          }
          if (kind === "avg") {
            const div = countPad ? tD.padCount[od]! * tH.padCount[oh]! * tW.padCount[ow]! : cnt;
            out[o] = acc / div;
          } else if (kind === "lp") out[o] = Math.pow(acc, 1 / p);
          else {
            out[o] = acc;
            if (idx) {
              let flat = best;
              if (colMajor && best >= 0) {
                const bd = Math.floor(best / (IH * IW));
                const bh = Math.floor(best / IW) % IH;
                const bw = best % IW;
                // column-major over the original spatial dims
                flat = nsp === 1 ? bw : nsp === 2 ? bh + bw * IH : bd + bh * ID + bw * ID * IH;
              }
              idx[o] = nc * plane + flat;
            }
          }
        }
      }
    }
  }
  const shape = [x.shape[0]!, x.shape[1]!, ...g.out];
  const res = [fromF64(x.dtype, shape, out)];
  if (idx) res.push(makeTensor("i64", shape, idx));
  return res;
}

function globalPool(node: Node, x: Tensor, kind: PoolKind, p: number): Tensor {
  if (x.rank < 2) fail(node, `input expected rank >= 2, found ${x.rank}`);
  const NC = x.shape[0]! * x.shape[1]!;
  const plane = prod(x.shape.slice(2));
  const xd = x.data;
  const out = new Float64Array(NC);
  for (let i = 0; i < NC; i++) {
    let acc = kind === "max" ? -Infinity : 0;
    const o = i * plane;
    for (let j = 0; j < plane; j++) {
      const v = xd[o + j]!;
      if (kind === "max") acc = v > acc || v !== v ? v : acc;
      else if (kind === "avg") acc += v;
      else acc += Math.pow(Math.abs(v), p);
    }
    out[i] = kind === "avg" ? acc / plane : kind === "lp" ? Math.pow(acc, 1 / p) : acc;
  }
  return fromF64(x.dtype, [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map(() => 1)], out);
}

function inferGlobal(ctx: InferCtx): ValueType[] {
  const x = needTensorIn(ctx, 0);
  return [tensorOut(x.dtype, x.shape ? [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map(() => 1)] : undefined)];
}

const POOL_COMMON: Record<string, AttrSpec> = {
  auto_pad: { type: "string", default: "NOTSET" },
  ceil_mode: { type: "int", default: 0 },
  dilations: { type: "ints" },
  kernel_shape: { type: "ints", required: true },
  pads: { type: "ints" },
  strides: { type: "ints" },
};

const NCHW_POOLS = {
  AveragePool: {
    attrs: { ...POOL_COMMON, count_include_pad: { type: "int", default: 0 } },
    inputs: [1, 1],
    outputs: [1, 1],
    infer: (ctx) => inferPool(ctx, false),
    run: (ins, ctx) => pool(ctx.node, ctx, tensorArg(ctx.node, ins[0], 0), "avg", false),
  },
  MaxPool: {
    attrs: { ...POOL_COMMON, storage_order: { type: "int", default: 0 } },
    inputs: [1, 1],
    outputs: [1, 2],
    infer: (ctx) => inferPool(ctx, true),
    run: (ins, ctx) => pool(ctx.node, ctx, tensorArg(ctx.node, ins[0], 0), "max", ctx.node.outputs.length > 1),
  },
  LpPool: {
    attrs: { ...POOL_COMMON, p: { type: "int", default: 2 } },
    inputs: [1, 1],
    outputs: [1, 1],
    infer: (ctx) => inferPool(ctx, false),
    run: (ins, ctx) => pool(ctx.node, ctx, tensorArg(ctx.node, ins[0], 0), "lp", false),
  },
  GlobalAveragePool: {
    attrs: {},
    inputs: [1, 1],
    outputs: [1, 1],
    infer: inferGlobal,
    run: (ins, ctx) => [globalPool(ctx.node, tensorArg(ctx.node, ins[0], 0), "avg", 1)],
  },
} satisfies Record<string, OpInfo>;

export const POOL_OPS = {
  AveragePool: withChannelsLast(NCHW_POOLS.AveragePool),
  MaxPool: withChannelsLast(NCHW_POOLS.MaxPool, true),
  LpPool: NCHW_POOLS.LpPool,
  GlobalAveragePool: withChannelsLast(NCHW_POOLS.GlobalAveragePool),
  GlobalMaxPool: {
    attrs: {},
    inputs: [1, 1],
    outputs: [1, 1],
    infer: inferGlobal,
    run: (ins, ctx) => [globalPool(ctx.node, tensorArg(ctx.node, ins[0], 0), "max", 1)],
  },
  GlobalLpPool: {
    attrs: { p: { type: "int", default: 2 } },
    inputs: [1, 1],
    outputs: [1, 1],
    infer: inferGlobal,
    run: (ins, ctx) => [globalPool(ctx.node, tensorArg(ctx.node, ins[0], 0), "lp", ctx.int("p"))],
  },
  MaxUnpool: {
    attrs: { kernel_shape: { type: "ints", required: true }, pads: { type: "ints" }, strides: { type: "ints" } },
    inputs: [2, 3],
    outputs: [1, 1],
    infer: (ctx) => {
      const x = needTensorIn(ctx, 0);
      if (ctx.inputs[2] !== undefined) {
        const os = ctx.constOf(2);
        if (os) return [tensorOut(x.dtype, os.toNumbers())];
        return [tensorOut(x.dtype, x.shape ? x.shape.map(() => "?") : undefined)];
      }
      if (!x.shape) return [tensorOut(x.dtype, undefined)];
      const n = x.shape.length - 2;
      const k = ctx.ints("kernel_shape");
      const s = intsOr(ctx, "strides", n, 1);
      const pads = intsOr(ctx, "pads", 2 * n, 0);
      return [tensorOut(x.dtype, [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map((d, i) => (typeof d === "number" ? (d - 1) * s[i]! - pads[i]! - pads[i + n]! + k[i]! : "?"))])];
    },
    run: (ins, ctx) => {
      const node = ctx.node;
      const x = tensorArg(node, ins[0], 0);
      const ind = tensorArg(node, ins[1], 1);
      const osT = optTensorArg(node, ins[2], 2);
      const n = x.rank - 2;
      const k = ctx.ints("kernel_shape");
      checkLen(node, "kernel_shape", k, n);
      const s = intsOr(ctx, "strides", n, 1);
      const pads = intsOr(ctx, "pads", 2 * n, 0);
      const inferred = [x.shape[0]!, x.shape[1]!, ...x.shape.slice(2).map((d, i) => (d - 1) * s[i]! - pads[i]! - pads[i + n]! + k[i]!)];
      const shape = osT ? osT.toNumbers() : inferred;
      if (shape.length !== x.rank) fail(node, `output_shape expected ${x.rank} values, found ${shape.length}`);
      if (ind.size !== x.size) fail(node, `indices expected ${x.size} elements, found ${ind.size}`);
      // scatter into the inferred shape, then place that at the origin of the requested shape
      const total = prod(inferred);
      const buf = new Float64Array(total);
      const xd = x.data;
      const id = ind.data;
      for (let i = 0; i < xd.length; i++) {
        const j = id[i]!;
        if (j < 0 || j >= total) fail(node, `index expected within [0, ${total}), found ${j}`);
        buf[j] = xd[i]!;
      }
      let out = buf;
      if (shape.some((d, i) => d !== inferred[i])) {
        out = new Float64Array(prod(shape));
        const ostr = shape.map((_, i) => prod(shape.slice(i + 1)));
        const ctr = new Array<number>(inferred.length).fill(0);
        for (let f = 0; f < total; f++) {
          let rem = f;
          let o = 0;
          let inside = true;
          for (let d = inferred.length - 1; d >= 0; d--) {
            ctr[d] = rem % inferred[d]!;
            rem = Math.floor(rem / inferred[d]!);
            if (ctr[d]! >= shape[d]!) inside = false;
            o += ctr[d]! * ostr[d]!;
          }
          if (inside) out[o] = buf[f]!;
        }
      }
      return [fromF64(x.dtype, shape, out)];
    },
  },
  Col2Im: {
    attrs: { dilations: { type: "ints" }, pads: { type: "ints" }, strides: { type: "ints" } },
    inputs: [3, 3],
    outputs: [1, 1],
    infer: (ctx) => {
      const x = needTensorIn(ctx, 0);
      const img = ctx.constOf(1);
      const blk = ctx.constOf(2);
      const n = x.shape?.[0] ?? "?";
      const c1 = x.shape?.[1];
      const c: Dim = blk && typeof c1 === "number" ? c1 / prod(blk.toNumbers()) : "?";
      if (img) return [tensorOut(x.dtype, [n, c, ...img.toNumbers()])];
      const it = ctx.inputs[1];
      const len = it?.kind === "tensor" ? it.shape?.[0] : undefined;
      return [tensorOut(x.dtype, typeof len === "number" ? [n, c, ...new Array<Dim>(len).fill("?")] : undefined)];
    },
    run: (ins, ctx) => {
      const node = ctx.node;
      const x = tensorArg(node, ins[0], 0);
      const image = tensorArg(node, ins[1], 1).toNumbers();
      const block = tensorArg(node, ins[2], 2).toNumbers();
      const nsp = image.length;
      if (block.length !== nsp) fail(node, `block_shape expected ${nsp} values, found ${block.length}`);
      if (x.rank !== 3) fail(node, `input expected rank 3, found ${x.rank}`);
      const s = intsOr(ctx, "strides", nsp, 1);
      const d = intsOr(ctx, "dilations", nsp, 1);
      const pads = intsOr(ctx, "pads", 2 * nsp, 0);
      const kk = prod(block);
      const N = x.shape[0]!;
      if (x.shape[1]! % kk !== 0) fail(node, `input dim 1 expected a multiple of ${kk}, found ${x.shape[1]}`);
      const C = x.shape[1]! / kk;
      const blocks = image.map((sz, i) => Math.floor((sz + pads[i]! + pads[i + nsp]! - (d[i]! * (block[i]! - 1) + 1)) / s[i]!) + 1);
      const L = prod(blocks);
      if (x.shape[2] !== L) fail(node, `input dim 2 expected ${L} blocks, found ${x.shape[2]}`);
      const w: Win3 = win3(node, image, blocks, block, s, d, pads.slice(0, nsp));
      const plane = prod(image);
      const xd = toF64(x.data);
      const out = new Float64Array(N * C * plane);
      for (let b = 0; b < N; b++) {
        const col = xd.subarray(b * C * kk * L, (b + 1) * C * kk * L);
        col2im(col, C, w, out, b * C * plane);
      }
      return [fromF64(x.dtype, [N, C, ...image], out)];
    },
  },
  RoiAlign: {
    attrs: {
      coordinate_transformation_mode: { type: "string", default: "half_pixel" },
      mode: { type: "string", default: "avg" },
      output_height: { type: "int", default: 1 },
      output_width: { type: "int", default: 1 },
      sampling_ratio: { type: "int", default: 0 },
      spatial_scale: { type: "float", default: 1 },
    },
    inputs: [3, 3],
    outputs: [1, 1],
    infer: (ctx) => {
      const x = needTensorIn(ctx, 0);
      const r = needTensorIn(ctx, 1);
      return [tensorOut(x.dtype, [r.shape?.[0] ?? "?", x.shape?.[1] ?? "?", ctx.int("output_height"), ctx.int("output_width")])];
    },
    run: (ins, ctx) => [roiAlign(ctx, tensorArg(ctx.node, ins[0], 0), tensorArg(ctx.node, ins[1], 1), tensorArg(ctx.node, ins[2], 2))],
  },
  MaxRoiPool: {
    attrs: { pooled_shape: { type: "ints", required: true }, spatial_scale: { type: "float", default: 1 } },
    inputs: [2, 2],
    outputs: [1, 1],
    infer: (ctx) => {
      const x = needTensorIn(ctx, 0);
      const r = needTensorIn(ctx, 1);
      const ps = ctx.ints("pooled_shape");
      return [tensorOut(x.dtype, [r.shape?.[0] ?? "?", x.shape?.[1] ?? "?", ps[0]!, ps[1]!])];
    },
    run: (ins, ctx) => {
      const node = ctx.node;
      const x = tensorArg(node, ins[0], 0);
      const rois = tensorArg(node, ins[1], 1);
      if (x.rank !== 4) fail(node, `input expected rank 4, found ${x.rank}`);
      const [, C, H, W] = x.shape as [number, number, number, number];
      const ps = ctx.ints("pooled_shape");
      checkLen(node, "pooled_shape", ps, 2);
      const [PH, PW] = ps as [number, number];
      const scale = ctx.float("spatial_scale");
      const R = rois.shape[0]!;
      const rd = rois.data;
      const xd = x.data;
      const out = new Float64Array(R * C * PH * PW);
      for (let r = 0; r < R; r++) {
        const b = rd[r * 5]!;
        const x1 = Math.round(rd[r * 5 + 1]! * scale);
        const y1 = Math.round(rd[r * 5 + 2]! * scale);
        const x2 = Math.round(rd[r * 5 + 3]! * scale);
        const y2 = Math.round(rd[r * 5 + 4]! * scale);
        const rh = Math.max(y2 - y1 + 1, 1);
        const rw = Math.max(x2 - x1 + 1, 1);
        const bh = rh / PH;
        const bw = rw / PW;
        for (let c = 0; c < C; c++) {
          const xo = (b * C + c) * H * W;
          for (let i = 0; i < PH; i++) {
            const hs = Math.min(Math.max(Math.floor(i * bh) + y1, 0), H);
            const he = Math.min(Math.max(Math.ceil((i + 1) * bh) + y1, 0), H);
            for (let j = 0; j < PW; j++) {
              const ws = Math.min(Math.max(Math.floor(j * bw) + x1, 0), W);
              const we = Math.min(Math.max(Math.ceil((j + 1) * bw) + x1, 0), W);
              let m = he <= hs || we <= ws ? 0 : -Infinity;
              for (let h = hs; h < he; h++) for (let w = ws; w < we; w++) m = Math.max(m, xd[xo + h * W + w]!);
              out[((r * C + c) * PH + i) * PW + j] = m;
            }
          }
        }
      }
      return [fromF64(x.dtype, [R, C, PH, PW], out)];
    },
  },
} satisfies Record<string, OpInfo>;

function roiAlign(ctx: RunCtx, x: Tensor, rois: Tensor, bi: Tensor): Tensor {
  const node = ctx.node;
  if (x.rank !== 4) fail(node, `input expected rank 4, found ${x.rank}`);
  if (rois.rank !== 2 || rois.shape[1] !== 4) fail(node, `rois expected shape [num_rois, 4], found [${rois.shape.join(",")}]`);
  const [, C, H, W] = x.shape as [number, number, number, number];
  const R = rois.shape[0]!;
  if (bi.size !== R) fail(node, `batch_indices expected ${R} elements, found ${bi.size}`);
  const PH = ctx.int("output_height");
  const PW = ctx.int("output_width");
  const sr = ctx.int("sampling_ratio");
  const scale = ctx.float("spatial_scale");
  const isMax = ctx.string("mode").toLowerCase() === "max";
  const half = ctx.string("coordinate_transformation_mode").toLowerCase() === "half_pixel";
  const rd = rois.data;
  const bd = bi.data;
  const xd = x.data;
  const out = new Float64Array(R * C * PH * PW);
  for (let r = 0; r < R; r++) {
    const off = half ? 0.5 : 0;
    const sw = rd[r * 4]! * scale - off;
    const sh = rd[r * 4 + 1]! * scale - off;
    const ew = rd[r * 4 + 2]! * scale - off;
    const eh = rd[r * 4 + 3]! * scale - off;
    let rw = ew - sw;
    let rh = eh - sh;
    if (!half) {
      rw = Math.max(rw, 1);
      rh = Math.max(rh, 1);
    }
    const bh = rh / PH;
    const bw = rw / PW;
    const gh = sr > 0 ? sr : Math.ceil(rh / PH);
    const gw = sr > 0 ? sr : Math.ceil(rw / PW);
    const count = Math.max(gh * gw, 1);
    // precomputed sample positions and weights per (ph, pw, iy, ix)
    const ns = PH * PW * gh * gw;
    const pos = new Int32Array(ns * 4);
    const wts = new Float64Array(ns * 4);
    let t = 0;
    for (let ph = 0; ph < PH; ph++) {
      for (let pw = 0; pw < PW; pw++) {
        for (let iy = 0; iy < gh; iy++) {
          const y = sh + ph * bh + ((iy + 0.5) * bh) / gh;
          for (let ix = 0; ix < gw; ix++, t++) {
            let xx = sw + pw * bw + ((ix + 0.5) * bw) / gw;
            if (y < -1 || y > H || xx < -1 || xx > W) continue; // zero weights
            let yy = Math.max(y, 0);
            xx = Math.max(xx, 0);
            let yl = Math.trunc(yy);
            let xl = Math.trunc(xx);
            let yh: number;
            let xh: number;
            if (yl >= H - 1) {
              yh = yl = H - 1;
              yy = yl;
            } else yh = yl + 1;
            if (xl >= W - 1) {
              xh = xl = W - 1;
              xx = xl;
            } else xh = xl + 1;
            const ly = yy - yl;
            const lx = xx - xl;
            const hy = 1 - ly;
            const hx = 1 - lx;
            pos.set([yl * W + xl, yl * W + xh, yh * W + xl, yh * W + xh], t * 4);
            wts.set([hy * hx, hy * lx, ly * hx, ly * lx], t * 4);
          }
        }
      }
    }
    const b = bd[r]!;
    for (let c = 0; c < C; c++) {
      const xo = (b * C + c) * H * W;
      let u = 0;
      for (let ph = 0; ph < PH; ph++) {
        for (let pw = 0; pw < PW; pw++) {
          let acc = 0;
          let first = true;
          for (let k = 0; k < gh * gw; k++, u++) {
            const q = u * 4;
            if (isMax) {
              const v = Math.max(wts[q]! * xd[xo + pos[q]!]!, wts[q + 1]! * xd[xo + pos[q + 1]!]!, wts[q + 2]! * xd[xo + pos[q + 2]!]!, wts[q + 3]! * xd[xo + pos[q + 3]!]!);
              acc = first ? v : Math.max(acc, v);
              first = false;
            } else {
              acc += wts[q]! * xd[xo + pos[q]!]! + wts[q + 1]! * xd[xo + pos[q + 1]!]! + wts[q + 2]! * xd[xo + pos[q + 2]!]! + wts[q + 3]! * xd[xo + pos[q + 3]!]!;
            }
          }
          out[((r * C + c) * PH + ph) * PW + pw] = isMax ? acc : acc / count;
        }
      }
    }
  }
  return fromF64(x.dtype, [R, C, PH, PW], out);
}
