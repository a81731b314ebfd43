/**
 * fuse-attention: scaled dot-product attention written out of MatMul, Softmax and layout ops becomes
 * one canonical `Attention` node (ONNX opset-23 semantics, ir/ops/quant-attention.ts):
 *
 *   scores = MatMul(Q', Kᵀ')  →  Mul/Div by scalar constants (any number)  →  optional Add(mask)
 *          → Softmax(last axis)  →  MatMul(·, V')  →  optional Transposes/Reshapes of the result
 *
 * where each operand Q', Kᵀ', V' is a chain of Transpose / Reshape / Flatten / Squeeze / Unsqueeze /
 * Identity nodes and Mul/Div by scalar constants over some value (its "base"). Both common spellings
 * match: the exporter's packed heads (PyTorch MultiheadAttention: Reshape [S, B·H, D] of a Slice of
 * the QKV projection, Transpose [1,0,2] — [1,2,0] for Kᵀ —, Q multiplied by 1/√D, the result
 * Transposed back and Reshaped to [S·B, H·D]) and the generic one (Q, K, V as [B, H, S, D],
 * MatMul(Q, Transpose(K, [0,1,3,2])), Div by √D or Mul by 1/√D, Add(mask)).
 *
 * How the layout ops are absorbed: every operand is described as a strided view of its base's
 * memory (a Reshape of a strided view is followed when numpy could do it without a copy; otherwise
 * the view restarts at the Reshape's input). The MatMul batch dims become Attention's (batch, heads):
 * none → (1, 1), [N] → (1, N) (PyTorch's merged B·H dim is N heads of batch 1, exact for any B),
 * [B, H] → (B, H). The fused node then reads the bases directly, in one of Attention's layouts:
 * 3-D [B, S, H·D] (q_num_heads = kv_num_heads = H) or 4-D [B, H, S, D]; a base whose bytes are not
 * already in that layout rejects the layout (no copies are inserted: when neither layout fits all
 * three operands, the pattern is left alone). The result is likewise the furthest value down the
 * single-reader Transpose/Reshape chain after the second MatMul whose bytes are the Attention output
 * in that layout. Reshapes (views in the C target) adapt the shapes on both sides. Graph outputs keep
 * their names (the last value of the chain is the same Value).
 *
 * Preconditions, all checked: f32 or f16; every shape static and non-empty; Q'/K'/V' have the same
 * batch dims (no broadcasting), rank 2 to 4; the scalars are constants of the dtype with a finite,
 * positive product (the `scale` attribute, rounded to f32 like an ONNX float attribute); the mask is
 * added after all scaling, has the dtype, rank ≥ 1, last dim equal to the key length (Attention pads
 * a shorter mask with -inf instead of broadcasting it), and broadcasts onto the scores without
 * changing their shape; Softmax is over the last axis; every intermediate value has exactly one
 * reader and is not a graph output (so every matched node is removed). Only top-level nodes match.
 * The target's `fusedOps`, when declared, must include "Attention".
 *
 * Numerics: the math is the same, the rounding is not exactly. Attention's reference multiplies Q
 * and K each by √scale and rounds, where the original rounded Q·c (exact when c is a power of two),
 * or the scores / c; the C kernel scales the f32 scores. The difference is a rounding of the scores,
 * well inside the tolerance of the dtype. A row whose mask is -inf everywhere gives zeros (the
 * Attention definition) where Softmax gave NaN.
 */
import { type Dim, type Graph, Node, Value, tensorType } from "../ir/graph.ts";
import type { DType } from "../ir/dtype.ts";
import { elidedSummary } from "../ir/text.ts";
import { pass as eliminateDead } from "./eliminate-dead.ts";
import type { Pass, PassContext } from "./pass.ts";
import { addInts, definedNames, freshName, readCounts, tensorParts, topLevelReaders } from "./rewrite.ts";

/** Ops that only reinterpret their first input's shape (their output shape says which). */
const RESHAPES: ReadonlySet<string> = new Set(["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"]);

const DTYPES: ReadonlySet<DType> = new Set<DType>(["f32", "f16"]);

interface Ctx {
  graph: Graph;
  counts: Map<Value, number>;
  /** top-level readers of each value */
  readers: Map<Value, Node[]>;
  top: Set<Node>;
  /** nodes already matched */
  used: Set<Node>;
  /** Reshape targets added so far, by shape */
  shapes: Map<string, Value>;
}

/** A static shape with every dim known and positive. */
function dimsOf(v: Value | undefined): number[] | undefined {
  const s = tensorParts(v?.type)?.shape;
  return s && s.every((d: Dim) => typeof d === "number" && d > 0) ? [...(s as number[])] : undefined;
}

function dtypeOf(v: Value | undefined): DType | undefined {
  return tensorParts(v?.type)?.dtype;
}

function sameDims(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function rowMajor(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = s;
    s *= shape[i]!;
  }
  return st;
}

/** Whether (sizes, strides) is `want` on every dim of size > 1. */
function stridesMatch(sizes: readonly number[], strides: readonly number[], want: readonly number[]): boolean {
  return sizes.every((n, i) => n === 1 || strides[i] === want[i]);
}

/**
 * The strides of a strided view (sizes, strides) reshaped to `to` without a copy (the row-major
 * element order of the view kept), or undefined when that needs a copy: each group of old dims that
 * maps onto a group of new dims must itself be contiguous.
 */
function reshapeView(sizes: readonly number[], strides: readonly number[], to: readonly number[]): number[] | undefined {
  const os: number[] = [];
  const ost: number[] = [];
  sizes.forEach((n, i) => {
    if (n !== 1) {
      os.push(n);
      ost.push(strides[i]!);
    }
  });
  const nIdx = to.flatMap((n, i) => (n !== 1 ? [i] : []));
  const res = new Array<number>(to.length).fill(0);
  let oi = 0;
  let ni = 0;
  while (oi < os.length && ni < nIdx.length) {
    let op = os[oi]!;
    let np = to[nIdx[ni]!]!;
    let oj = oi + 1;
    let nj = ni + 1;
    while (op !== np) {
      if (op < np) {
        if (oj >= os.length) return undefined;
        op *= os[oj++]!;
      } else {
        if (nj >= nIdx.length) return undefined;
        np *= to[nIdx[nj++]!]!;
      }
    }
    for (let k = oi; k < oj - 1; k++) if (ost[k] !== os[k + 1]! * ost[k + 1]!) return undefined;
    let s = ost[oj - 1]!;
    for (let k = nj - 1; k >= ni; k--) {
      res[nIdx[k]!] = s;
      s *= to[nIdx[k]!]!;
    }
    oi = oj;
    ni = nj;
  }
  return oi === os.length && ni === nIdx.length ? res : undefined;
}

/** A Transpose's permutation (normalized; default reversed), checked against the rank. */
function permOf(n: Node, rank: number): number[] | undefined {
  const p = n.attrs.perm;
  const perm = Array.isArray(p) ? (p as readonly number[]).map((a) => (a < 0 ? a + rank : a)) : [...Array(rank).keys()].reverse();
  if (perm.length !== rank || new Set(perm).size !== rank || perm.some((a) => !(a >= 0 && a < rank))) return undefined;
  return perm;
}

/** The one value of a readable float scalar constant. */
function scalarOf(v: Value | undefined, dt: DType): number | undefined {
  const t = v?.const;
  if (!t || t.dtype !== dt || t.size !== 1 || elidedSummary(t)) return undefined;
  return t.data[0]!;
}

/** `n` as x·f: Mul of x by a scalar constant (either side) or Div of x by one, keeping x's shape. */
function scaling(n: Node, dt: DType): { x: Value; f: number } | undefined {
  if ((n.op !== "Mul" && n.op !== "Div") || n.inputs.length !== 2 || n.outputs.length !== 1) return undefined;
  const [a, b] = n.inputs;
  let x: Value | undefined;
  let f: number | undefined;
  const kb = scalarOf(b, dt);
  if (kb !== undefined && a && !a.const) [x, f] = [a, n.op === "Mul" ? kb : 1 / kb];
  else if (n.op === "Mul" && a && b && !b.const) {
    const ka = scalarOf(a, dt);
    if (ka !== undefined) [x, f] = [b, ka];
  }
  if (!x || f === undefined || !Number.isFinite(f) || f === 0) return undefined;
  const xs = dimsOf(x);
  const ys = dimsOf(n.outputs[0]);
  return xs && ys && sameDims(xs, ys) && dtypeOf(x) === dt ? { x, f } : undefined;
}

/** Whether `v` is read exactly once, by a top-level node, and is not a graph output. */
function single(c: Ctx, v: Value): boolean {
  return c.counts.get(v) === 1 && !c.graph.outputs.includes(v) && (c.readers.get(v)?.length ?? 0) === 1;
}

/** The one reader of `v` (see `single`) when it is not matched yet. */
function soleReader(c: Ctx, v: Value): Node | undefined {
  if (!single(c, v)) return undefined;
  const r = c.readers.get(v)![0]!;
  return c.used.has(r) ? undefined : r;
}

/** A MatMul operand as a strided view of `base`'s bytes, scaled by `factor`. */
interface Operand {
  base: Value;
  sizes: number[];
  strides: number[];
  factor: number;
  /** the nodes between base and the operand (removed by the fusion) */
  nodes: Node[];
}

/** Follows the single-reader view and scaling nodes that produce `v`. */
function traceOperand(c: Ctx, v: Value, dt: DType): Operand | undefined {
  const steps: { node: Node; f?: number }[] = [];
  let cur = v;
  while (single(c, cur)) {
    const p = cur.producer;
    if (!p || !c.top.has(p) || c.used.has(p) || p.outputs.length !== 1) break;
    if (RESHAPES.has(p.op) || p.op === "Transpose") {
      const x = p.inputs[0];
      if (!x || !dimsOf(x) || dtypeOf(x) !== dt) break;
      steps.push({ node: p });
      cur = x;
    } else {
      const s = scaling(p, dt);
      if (!s) break;
      steps.push({ node: p, f: s.f });
      cur = s.x;
    }
  }
  let base = cur;
  let sizes = dimsOf(base);
  if (!sizes || dtypeOf(base) !== dt) return undefined;
  let strides = rowMajor(sizes);
  let factor = 1;
  let nodes: Node[] = [];
  for (let k = steps.length - 1; k >= 0; k--) {
    const { node, f } = steps[k]!;
    const out = dimsOf(node.outputs[0])!;
    if (f !== undefined) {
      factor *= f;
    } else if (node.op === "Transpose") {
      const perm = permOf(node, sizes.length);
      if (!perm || !sameDims(perm.map((p) => sizes![p]!), out)) return undefined;
      [sizes, strides] = [perm.map((p) => sizes![p]!), perm.map((p) => strides[p]!)];
    } else {
      let st = reshapeView(sizes, strides, out);
      if (!st) {
        // not a view of the base: the Reshape's input (a materialized value) becomes the base
        base = node.inputs[0]!;
        sizes = dimsOf(base)!;
        [factor, nodes] = [1, []];
        st = reshapeView(sizes, rowMajor(sizes), out);
        if (!st) return undefined;
      }
      [sizes, strides] = [out, st];
    }
    nodes.push(node);
  }
  return { base, sizes, strides, factor, nodes };
}

type Layout = 3 | 4;

/** Strides of the dims [batch..., S, D] when the tensor is stored in `layout` (nb batch dims). */
function layoutStrides(layout: Layout, nb: number, H: number, S: number, D: number): number[] {
  const [b, h, s] = layout === 3 ? [S * H * D, D, H * D] : [H * S * D, S * D, D];
  return [...(nb === 2 ? [b, h] : nb === 1 ? [h] : []), s, 1];
}

/** The Attention input/output shape of a tensor with S rows of head size D in `layout`. */
function layoutShape(layout: Layout, B: number, H: number, S: number, D: number): number[] {
  return layout === 3 ? [B, S, H * D] : [B, H, S, D];
}

/** Everything a match needs to build the fused node. */
interface Match {
  m1: Node;
  /** m1, scalings, mask Add, Softmax, m2 */
  core: Node[];
  q: Operand;
  k: Operand;
  v: Operand;
  mask: Value | undefined;
  scoreFactor: number;
  dt: DType;
  nb: number;
  B: number;
  H: number;
  Sq: number;
  Sk: number;
  D: number;
  Dv: number;
  /** the second MatMul's output, then the single-reader Transpose/Reshape chain after it */
  outChain: Value[];
}

/** Matches the attention pattern starting at the first MatMul `m1`. */
function match(c: Ctx, m1: Node): Match | undefined {
  const [A, Bt] = m1.inputs;
  const as = dimsOf(A);
  const bs = dimsOf(Bt);
  const dt = dtypeOf(A);
  if (!A || !Bt || !as || !bs || !dt || !DTYPES.has(dt) || dtypeOf(Bt) !== dt) return undefined;
  const r = as.length;
  if (r < 2 || r > 4 || bs.length !== r || A === Bt) return undefined;
  const nb = r - 2;
  const batch = as.slice(0, nb);
  if (!sameDims(batch, bs.slice(0, nb))) return undefined;
  const [Sq, D, Sk] = [as[r - 2]!, as[r - 1]!, bs[r - 1]!];
  if (bs[r - 2] !== D) return undefined;
  const scores = [...batch, Sq, Sk];
  const core: Node[] = [m1];
  let cur = m1.outputs[0]!;
  if (!sameDims(dimsOf(cur) ?? [], scores) || dtypeOf(cur) !== dt) return undefined;
  let scoreFactor = 1;
  let n = soleReader(c, cur);
  while (n) {
    const s = scaling(n, dt);
    if (!s || s.x !== cur) break;
    scoreFactor *= s.f;
    core.push(n);
    cur = n.outputs[0]!;
    n = soleReader(c, cur);
  }
  let mask: Value | undefined;
  if (n?.op === "Add" && n.inputs.length === 2) {
    const [a, b] = n.inputs;
    mask = a === cur ? b : b === cur ? a : undefined;
    const ms = dimsOf(mask);
    if (!mask || mask === cur || !ms || dtypeOf(mask) !== dt || ms.length < 1 || ms.length > r) return undefined;
    if (ms[ms.length - 1] !== Sk || !ms.every((d, i) => d === 1 || d === scores[r - ms.length + i])) return undefined;
    if (!sameDims(dimsOf(n.outputs[0]) ?? [], scores)) return undefined;
    core.push(n);
    cur = n.outputs[0]!;
    n = soleReader(c, cur);
  }
  if (n?.op !== "Softmax" || n.inputs[0] !== cur) return undefined;
  const axis = typeof n.attrs.axis === "number" ? n.attrs.axis : -1;
  if (axis !== -1 && axis !== r - 1) return undefined;
  core.push(n);
  cur = n.outputs[0]!;
  const m2 = soleReader(c, cur);
  if (m2?.op !== "MatMul" || m2.inputs[0] !== cur) return undefined;
  const V = m2.inputs[1];
  const vs = dimsOf(V);
  if (!V || V === cur || !vs || dtypeOf(V) !== dt || vs.length !== r || !sameDims(vs.slice(0, nb + 1), [...batch, Sk])) return undefined;
  const Dv = vs[r - 1]!;
  const O = m2.outputs[0]!;
  if (!sameDims(dimsOf(O) ?? [], [...batch, Sq, Dv]) || dtypeOf(O) !== dt) return undefined;
  core.push(m2);
  // operands (Kᵀ's view read as K: swap its last two dims)
  const q = traceOperand(c, A, dt);
  const k = traceOperand(c, Bt, dt);
  const v = traceOperand(c, V, dt);
  if (!q || !k || !v) return undefined;
  for (const a of [k.sizes, k.strides]) [a[r - 2], a[r - 1]] = [a[r - 1]!, a[r - 2]!];
  const outChain = [O];
  for (let x = soleReader(c, O); x && (RESHAPES.has(x.op) || x.op === "Transpose") && x.inputs[0] === outChain[outChain.length - 1] && x.outputs.length === 1; ) {
    const y = x.outputs[0]!;
    if (!dimsOf(y) || dtypeOf(y) !== dt) break;
    outChain.push(y);
    x = soleReader(c, y);
  }
  const [B, H] = nb === 2 ? [batch[0]!, batch[1]!] : [1, nb === 1 ? batch[0]! : 1];
  return { m1, core, q, k, v, mask, scoreFactor, dt, nb, B, H, Sq, Sk, D, Dv, outChain };
}

/** The furthest index of the output chain whose bytes are the Attention output in `layout` (-1: none). */
function outputEnd(m: Match, layout: Layout): number {
  let sizes = dimsOf(m.outChain[0])!;
  let strides = layoutStrides(layout, m.nb, m.H, m.Sq, m.Dv);
  let best = stridesMatch(sizes, strides, rowMajor(sizes)) ? 0 : -1;
  for (let i = 1; i < m.outChain.length; i++) {
    const node = m.outChain[i]!.producer!;
    const out = dimsOf(m.outChain[i])!;
    if (node.op === "Transpose") {
      const perm = permOf(node, sizes.length);
      if (!perm) break;
      [sizes, strides] = [perm.map((p) => sizes[p]!), perm.map((p) => strides[p]!)];
      if (!sameDims(sizes, out)) break;
    } else {
      const st = reshapeView(sizes, strides, out);
      if (!st) break;
      [sizes, strides] = [out, st];
    }
    if (stridesMatch(sizes, strides, rowMajor(sizes))) best = i;
  }
  return best;
}

/** Whether the operands are all stored in `layout`. */
function inputsFit(m: Match, layout: Layout): boolean {
  return stridesMatch(m.q.sizes, m.q.strides, layoutStrides(layout, m.nb, m.H, m.Sq, m.D)) &&
    stridesMatch(m.k.sizes, m.k.strides, layoutStrides(layout, m.nb, m.H, m.Sk, m.D)) &&
    stridesMatch(m.v.sizes, m.v.strides, layoutStrides(layout, m.nb, m.H, m.Sk, m.Dv));
}

/** Builds the fused nodes for a match; returns the nodes to insert and the nodes to remove. */
function rewrite(c: Ctx, names: Set<string>, m: Match): { insert: Node[]; at: Node; remove: Node[] } | undefined {
  // the layout that absorbs the most of the output chain (the 3-D one on ties)
  let layout: Layout | undefined;
  let end = -1;
  for (const l of [3, 4] as const) {
    if (!inputsFit(m, l)) continue;
    const e = outputEnd(m, l);
    if (e > end) [layout, end] = [l, e];
  }
  if (layout === undefined) return undefined;
  const scale = Math.fround(m.q.factor * m.k.factor * m.scoreFactor);
  if (!(scale > 0) || !Number.isFinite(scale)) return undefined;
  const { graph } = c;
  const name = m.m1.name;
  // (collected before the fused node takes over the last value of the chain)
  const tail = m.outChain.slice(1, end + 1).map((x) => x.producer!);
  const remove = [...m.q.nodes, ...m.k.nodes, ...m.v.nodes, ...m.core, ...tail];
  const insert: Node[] = [];
  const tag = layout === 3 ? "bsd" : "bhsd";
  // one constant per distinct target shape in the graph
  const shapeConst = (base: string, shape: number[]): Value => {
    const key = shape.join(",");
    let s = c.shapes.get(key);
    if (!s) c.shapes.set(key, (s = addInts(graph, names, `${base}.shape`, shape)));
    return s;
  };
  const reshape = (x: Value, shape: number[], role: string): Value => {
    if (sameDims(dimsOf(x)!, shape)) return x;
    const prior = insert.find((n) => n.op === "Reshape" && n.inputs[0] === x && sameDims(dimsOf(n.outputs[0])!, shape));
    if (prior) return prior.outputs[0]!;
    const y = new Value(freshName(names, `${x.name}.${tag}`), tensorType(m.dt, shape));
    insert.push(new Node("Reshape", `${name}/reshape_${role}`, [x, shapeConst(y.name, shape)], [y]));
    return y;
  };
  const q = reshape(m.q.base, layoutShape(layout, m.B, m.H, m.Sq, m.D), "q");
  const k = reshape(m.k.base, layoutShape(layout, m.B, m.H, m.Sk, m.D), "k");
  const v = reshape(m.v.base, layoutShape(layout, m.B, m.H, m.Sk, m.Dv), "v");
  const F = m.outChain[end]!;
  const outShape = layoutShape(layout, m.B, m.H, m.Sq, m.Dv);
  const direct = sameDims(dimsOf(F)!, outShape);
  const y = direct ? F : new Value(freshName(names, `${F.name}.attention`), tensorType(m.dt, outShape));
  const attrs = layout === 3 ? { kv_num_heads: m.H, q_num_heads: m.H, scale } : { scale };
  insert.push(new Node("Attention", name, m.mask ? [q, k, v, m.mask] : [q, k, v], [y], attrs));
  if (!direct) insert.push(new Node("Reshape", `${name}/reshape_out`, [y, shapeConst(F.name, dimsOf(F)!)], [F]));
  return { insert, at: remove[remove.length - 1]!, remove };
}

export const pass: Pass = {
  name: "fuse-attention",
  run(graph: Graph, ctx: PassContext): boolean {
    const declared = ctx.target?.fusedOps;
    if (declared !== undefined && !declared.includes("Attention")) return false;
    const readers = topLevelReaders(graph);
    const c: Ctx = { graph, counts: readCounts(graph), readers, top: new Set(graph.nodes), used: new Set(), shapes: new Map() };
    const names = definedNames(graph);
    const inserts = new Map<Node, Node[]>();
    const removed = new Set<Node>();
    for (const n of graph.nodes) {
      if (n.op !== "MatMul" || c.used.has(n)) continue;
      const m = match(c, n);
      const rw = m && rewrite(c, names, m);
      if (!rw) continue;
      for (const d of rw.remove) {
        c.used.add(d);
        removed.add(d);
      }
      inserts.set(rw.at, rw.insert);
    }
    if (removed.size === 0) return false;
    graph.nodes = graph.nodes.flatMap((n) => [...(inserts.get(n) ?? []), ...(removed.has(n) ? [] : [n])]);
    eliminateDead.run(graph, ctx);
    return true;
  },
};
