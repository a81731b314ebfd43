/**
 * simplify rules for matrix products (see simplify.ts for the pass):
 *
 * - Gemm → MatMul (+ Add). Gemm(A, B, C){alpha, beta, transA, transB} with a constant B becomes
 *   MatMul(A', B') followed, when C is present and beta ≠ 0, by Add(·, C') with C' constant. transB
 *   and alpha are folded into a new constant B' (the transposed copy, every element multiplied by
 *   alpha), beta into C' (beta·C); transA becomes a Transpose node. The fold happens only when it
 *   is exact: alpha a power of two with alpha·b representable for every element (so alpha·(A·B) =
 *   A·(alpha·B) in any binary floating-point evaluation that neither overflows nor underflows), and
 *   beta·c representable for every element. The split lets fuse-epilogue treat every linear layer
 *   the same way (MatMul → bias → residual → activation: FusedMatMul). It is declined when the
 *   target declares fused ops without FusedMatMul (the Add could then not fuse back), and when C is
 *   not a constant (a computed C would stay a separate Add). Note on rounding: the reference Gemm
 *   rounds once (alpha·A·B + beta·C in f64), MatMul + Add rounds the product and then the sum, as
 *   the C kernels of both forms do; the two differ by at most one rounding of the output dtype.
 *
 * - Reshape motion: Reshape(MatMul(a, W)) with W of rank 2, [K, N], and a reshape that keeps the
 *   last dim N becomes MatMul(Reshape(a, [..., K]), W). Row r of the product is row r of a times W
 *   whatever the leading dims are, and a reshape whose input and output both end in N keeps every
 *   row whole, so the values are the same, bit for bit. An Add of a bias that varies only along the
 *   last dim (shape [1, ..., 1, N] or all ones, rank at most the reshape's) may sit between the
 *   MatMul and the reshape; it moves with the MatMul. Every value in the chain must have the next
 *   node as its only reader. The reshape thus moves from the product's output to its input, where
 *   it may merge with the reshape that made `a` (BERT's out-projection: Reshape [128,256] → Gemm →
 *   Reshape [1,128,256] becomes one Reshape to [1,128,256] → MatMul → Add(bias), and the residual
 *   Add that follows sees the product in its own shape, so fuse-epilogue folds bias and residual
 *   into one FusedMatMul). Reshapes are views (no kernel), so this never adds work; the opposite
 *   direction (moving a reshape from the input to the output) would put a view between the product
 *   and its epilogue and is not done.
 */
import { Node, Value, tensorType } from "../ir/graph.ts";
import { Tensor } from "../ir/tensor.ts";
import { staticShape } from "../ir/ops/support.ts";
import { type Rewriter, type Rule, insertBefore, insertAfter, isPowerOfTwo, mapExact, onlyReader, readableConst } from "./simplify-common.ts";
import { IEEE_FLOATS, addConstant, addInts, canReplace, constInts, freshName, readCounts, replaceValue, tensorParts } from "./rewrite.ts";

function num(v: unknown, dflt: number): number {
  return typeof v === "number" ? v : dflt;
}

/** The transpose of a rank-2 tensor. */
function transpose2(t: Tensor): Tensor {
  const [r, c] = t.shape as [number, number];
  const out = Tensor.zeros(t.dtype, [c, r]);
  const a = t.data;
  const o = out.data;
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) o[j * r + i] = a[i * c + j]!;
  return out;
}

/**
 * A constant made from `src` by `recipe` (added as `<src>.<suffix>`), shared by every rule that asks
 * for the same recipe in this run; undefined when `make` declines.
 */
function derivedConst(rw: Rewriter, src: Value, recipe: string, suffix: string, make: () => Tensor | undefined): Value | undefined {
  let byRecipe = rw.derived.get(src);
  if (!byRecipe) rw.derived.set(src, (byRecipe = new Map()));
  const known = byRecipe.get(recipe);
  if (known && rw.graph.constants.includes(known)) return known;
  const t = make();
  if (!t) return undefined;
  const v = addConstant(rw.graph, rw.names, `${src.name}.${suffix}`, t);
  byRecipe.set(recipe, v);
  return v;
}

export const gemmToMatMul: Rule = (n, rw) => {
  const fusedOps = rw.ctx.target?.fusedOps;
  if (fusedOps && !fusedOps.includes("FusedMatMul")) return false;
  const [a, b, c] = n.inputs;
  const y = n.outputs[0];
  const ta = tensorParts(a?.type);
  const ty = tensorParts(y?.type);
  if (!a || !b || !y || n.outputs.length !== 1 || !ta || !ty) return false;
  const dt = ty.dtype;
  if (!IEEE_FLOATS.has(dt) || ta.dtype !== dt || ta.shape?.length !== 2) return false;
  const bt = b.const;
  if (!bt || bt.dtype !== dt || bt.rank !== 2) return false;
  const alpha = num(n.attrs.alpha, 1);
  const beta = num(n.attrs.beta, 1);
  const transA = num(n.attrs.transA, 0) !== 0;
  const transB = num(n.attrs.transB, 0) !== 0;
  // B' = alpha · (B or Bᵀ), exactly
  let b2: Value | undefined = b;
  if (transB || alpha !== 1) {
    if (alpha !== 1 && !isPowerOfTwo(Math.abs(alpha))) return false;
    const t = readableConst(b);
    if (!t) return false;
    const suffix = [transB ? "T" : "", alpha !== 1 ? "scaled" : ""].filter((s) => s).join(".");
    b2 = derivedConst(rw, b, `${transB ? "T" : ""}*${alpha}`, suffix, () => {
      const src = transB ? transpose2(t) : t;
      return alpha === 1 ? src : mapExact(src, (v) => v * alpha);
    });
    if (!b2) return false;
  }
  // C' = beta · C, exactly; beta = 0 drops C (Gemm then ignores it, NaN and Inf included)
  let c2: Value | undefined;
  if (c && beta !== 0) {
    const ct = c.const;
    if (!ct || ct.dtype !== dt) return false;
    c2 = c;
    if (beta !== 1) {
      const t = readableConst(c);
      if (!t) return false;
      c2 = derivedConst(rw, c, `*${beta}`, "scaled", () => mapExact(t, (v) => v * beta));
      if (!c2) return false;
    }
  }
  let a2: Value = a;
  if (transA) {
    const s = ta.shape;
    a2 = new Value(freshName(rw.names, `${a.name}.T`), tensorType(dt, [s[1]!, s[0]!]));
    insertBefore(rw, n, new Node("Transpose", `${n.name}.transA`, [a], [a2], { perm: [1, 0] }));
  }
  n.op = "MatMul";
  n.attrs = {};
  n.inputs = [a2, b2];
  if (c2) {
    const m = new Value(freshName(rw.names, `${y.name}.matmul`), tensorType(dt, ty.shape));
    m.producer = n;
    n.outputs = [m];
    insertAfter(rw, n, new Node("Add", `${n.name}.bias`, [m, c2], [y]));
  }
  return true;
};

/** The MatMul producing `y` when it multiplies by a rank-2 [K, N] operand and `reader` is y's only reader. */
function rowwiseMatMul(rw: Rewriter, y: Value | undefined, reader: Node, N: number): { mm: Node; K: number } | undefined {
  const mm = y?.producer;
  if (!y || mm?.op !== "MatMul" || mm.outputs[0] !== y) return undefined;
  const w = staticShape(mm.inputs[1]?.type);
  const ys = staticShape(y.type);
  const a = tensorParts(mm.inputs[0]?.type);
  if (!w || w.length !== 2 || w[1] !== N || !ys || ys[ys.length - 1] !== N || !a?.shape?.length) return undefined;
  const K = w[0]!;
  if (K <= 0 || !onlyReader(rw, y, reader)) return undefined;
  return { mm, K };
}

/** Whether a bias of shape `b` adds the same value to every row of a [..., N] tensor of rank `rank`. */
function rowBias(b: readonly number[] | undefined, N: number, rank: number): boolean {
  return b !== undefined && b.length <= rank && b.every((d, i) => d === 1 || (i === b.length - 1 && d === N));
}

export const reshapeBeforeMatMul: Rule = (n, rw) => {
  const r = n.outputs[0];
  const out = staticShape(r?.type);
  if (!r || n.outputs.length !== 1 || !out || out.length === 0 || out.some((d) => d <= 0)) return false;
  const N = out[out.length - 1]!;
  const x = n.inputs[0];
  const dt = tensorParts(x?.type)?.dtype;
  if (!x || !dt) return false;
  // the chain: MatMul, or MatMul → Add(bias), whose last value the reshape reads
  let found = rowwiseMatMul(rw, x, n, N);
  let add: Node | undefined;
  if (!found && x.producer?.op === "Add" && x.producer.outputs[0] === x && onlyReader(rw, x, n)) {
    const p = x.producer;
    for (const i of [0, 1]) {
      const bias = p.inputs[1 - i];
      if (tensorParts(bias?.type)?.dtype !== dt || !rowBias(staticShape(bias?.type), N, out.length)) continue;
      const y = p.inputs[i];
      const ys = staticShape(y?.type);
      const xs = staticShape(x.type);
      if (!ys || !xs || ys.join() !== xs.join()) continue;
      found = rowwiseMatMul(rw, y, p, N);
      if (found) {
        add = p;
        break;
      }
    }
  }
  if (!found) return false;
  const { mm, K } = found;
  // the reshape's readers move to the chain's last value, which may take its name as an output
  if (!readCounts(rw.graph).get(r) || !canReplace(rw.graph, r, x)) return false;
  const name = r.name;
  if (!replaceValue(rw.graph, r, x, rw.names)) return false;
  // (a graph output's name went to x; r, now the product's reshaped input, is named after that input)
  if (r.name !== name) r.name = freshName(rw.names, `${mm.inputs[0]!.name}.reshaped`);
  // the reshape node itself moves before the product and reshapes its input to [..., K]
  const a = mm.inputs[0];
  const as = [...out.slice(0, -1), K];
  r.type = tensorType(dt, as);
  // (a Reshape to a static shape that keeps N = K keeps its spec)
  const spec = n.op === "Reshape" && constInts(n.inputs[1])?.join() === as.join() ? n.inputs[1] : undefined;
  n.op = "Reshape";
  n.inputs = [a, spec ?? addInts(rw.graph, rw.names, `${r.name}.shape`, as)];
  n.attrs = {};
  rw.graph.nodes.splice(rw.graph.nodes.indexOf(n), 1);
  insertBefore(rw, mm, n);
  mm.inputs = [r, mm.inputs[1]];
  mm.outputs[0]!.type = tensorType(dt, out);
  if (add) add.outputs[0]!.type = tensorType(dt, out);
  return true;
};
