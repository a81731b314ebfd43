/** ONNX → canonical: nn family. */
import type { AttrValue } from "../../../ir/graph.ts";
import { Tensor } from "../../../ir/tensor.ts";
import type { OnnxOpEntry } from "../op-table.ts";

/** Attributes minus the named ones. */
function without(attrs: Readonly<Record<string, AttrValue>>, ...names: string[]): Record<string, AttrValue> {
  const out: Record<string, AttrValue> = {};
  for (const [k, v] of Object.entries(attrs)) if (!names.includes(k)) out[k] = v;
  return out;
}

/**
 * A pool entry: `channels_last` is an attribute of the canonical pools (set by the layout pass), not
 * of ONNX's, so an ONNX node carrying it is an error rather than a silently channels-last pool.
 */
const pool = (op: "AveragePool" | "MaxPool" | "GlobalAveragePool", since: number[]): OnnxOpEntry => ({
  op,
  since,
  import: (n, b) => {
    if (n.attrs.channels_last !== undefined) b.fail(`attribute 'channels_last' is not an ONNX attribute of ${op}`);
    b.emit(op, n.inputs, n.attrs, n.outputs);
  },
});

export const NN_ONNX: readonly OnnxOpEntry[] = [
  { op: "MatMul", since: [1, 9, 13] },
  { op: "MatMulInteger", since: [10] },
  {
    op: "Gemm",
    since: [1, 6, 7, 9, 11, 13],
    // opsets < 7 carry a `broadcast` flag; broadcasting of C is always allowed now
    import: (n, b) => {
      b.emit("Gemm", n.inputs, n.version < 7 ? without(n.attrs, "broadcast") : n.attrs, n.outputs);
    },
  },
  { op: "Conv", since: [1, 11, 22] },
  { op: "ConvInteger", since: [10] },
  { op: "ConvTranspose", since: [1, 11, 22] },
  { op: "DeformConv", since: [19, 22] },
  pool("AveragePool", [1, 7, 10, 11, 19, 22]),
  pool("MaxPool", [1, 8, 10, 11, 12, 22]),
  {
    op: "LpPool",
    since: [1, 2, 11, 18, 22],
    // LpPool-1 has a float `p`
    import: (n, b) => {
      const attrs = { ...n.attrs };
      if (n.version < 2 && typeof attrs.p === "number") attrs.p = Math.round(attrs.p);
      b.emit("LpPool", n.inputs, attrs, n.outputs);
    },
  },
  pool("GlobalAveragePool", [1, 22]),
  { op: "GlobalMaxPool", since: [1, 22] },
  {
    op: "GlobalLpPool",
    since: [1, 2, 22],
    import: (n, b) => {
      const attrs = { ...n.attrs };
      if (n.version < 2 && typeof attrs.p === "number") attrs.p = Math.round(attrs.p);
      b.emit("GlobalLpPool", n.inputs, attrs, n.outputs);
    },
  },
  { op: "MaxUnpool", since: [9, 11, 22] },
  {
    op: "Resize",
    since: [10, 11, 13, 18, 19],
    // Resize-10 is Upsample: (X, scales), asymmetric coordinates, nearest rounds down
    import: (n, b) => {
      if (n.version === 10) {
        const mode = typeof n.attrs.mode === "string" ? n.attrs.mode : "nearest";
        b.emit("Resize", [n.inputs[0], undefined, n.inputs[1]], { mode, coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" }, n.outputs);
        return;
      }
      b.emit("Resize", n.inputs, n.attrs, n.outputs);
    },
  },
  {
    op: "Upsample",
    since: [7, 9],
    import: (n, b) => {
      let mode = typeof n.attrs.mode === "string" ? n.attrs.mode : "nearest";
      if (mode === "bilinear") mode = "linear";
      let scales = n.inputs[1];
      if (n.version < 9) {
        const s = n.attrs.scales;
        if (!Array.isArray(s)) b.fail("expected attribute 'scales', found none");
        scales = b.constant(Tensor.of("f32", s as number[]), `${n.name}_scales`);
      }
      b.emit("Resize", [n.inputs[0], undefined, scales], { mode, coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" }, n.outputs);
    },
  },
  {
    op: "GridSample",
    since: [16, 20, 22],
    // GridSample-16 names the modes bilinear/bicubic
    import: (n, b) => {
      const attrs = { ...n.attrs };
      if (attrs.mode === "bilinear") attrs.mode = "linear";
      else if (attrs.mode === "bicubic") attrs.mode = "cubic";
      b.emit("GridSample", n.inputs, attrs, n.outputs);
    },
  },
  { op: "AffineGrid", since: [20] },
  { op: "Col2Im", since: [18] },
  {
    op: "RoiAlign",
    since: [10, 16, 22],
    // RoiAlign-10 behaves as coordinate_transformation_mode=output_half_pixel
    import: (n, b) => {
      const attrs = n.version < 16 ? { ...n.attrs, coordinate_transformation_mode: "output_half_pixel" } : n.attrs;
      b.emit("RoiAlign", n.inputs, attrs, n.outputs);
    },
  },
  { op: "MaxRoiPool", since: [1, 22] },
];
