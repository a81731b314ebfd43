/**
 * fuse-norm: LayerNorm, RMSNorm, GELU and SiLU written with primitive ops become one canonical op
 * each (LayerNormalization, RMSNormalization, Gelu, Swish), which targets implement in one pass over
 * the data.
 *
 * - LayerNorm (the PyTorch export): m = ReduceMean(x); d = Sub(x, m); v = ReduceMean(Pow(d, 2)) or
 *   ReduceMean(Mul(d, d)); then an inverse standard deviation applied to d (below); then optionally
 *   Mul by gamma and Add of beta → LayerNormalization(x, gamma, beta){axis, epsilon}. Without gamma
 *   a constant of ones of the normalized shape is the scale; without beta B is omitted.
 * - RMSNorm: the same without the centering, v = ReduceMean(Pow(x, 2)) or ReduceMean(Mul(x, x)),
 *   then optionally Mul by gamma → RMSNormalization(x, gamma){axis, epsilon}.
 * - The inverse standard deviation of u (d or x) from v: Div(u, Sqrt(a)), Mul(u, Reciprocal(Sqrt(a))),
 *   Mul(u, Div(1, Sqrt(a))) or Mul(u, Pow(a, -0.5)), where a = Add(v, eps) with eps a scalar
 *   constant (a = v, epsilon 0, when there is no Add).
 * - GELU: the product of x, 0.5 and 1 + Erf(x / √2) (Div by √2 or Mul by 1/√2), its factors
 *   multiplied in any order (0.5 also as Div by 2) → Gelu; with 1 + Tanh(√(2/π)·(x + 0.044715·x³))
 *   (x³ as Pow(x, 3) or Mul of x and Mul(x, x)) → Gelu{approximate="tanh"}.
 * - SiLU: Mul(x, Sigmoid(x)) → Swish (alpha 1); Mul(x, Sigmoid(Mul(x, a))) with a scalar constant
 *   a → Swish{alpha=a}.
 *
 * An Add may also be a Sum of two inputs (as in ONNX function bodies). Conditions: top-level nodes
 * only; every intermediate value is read only by the next nodes of its pattern (not by other
 * nodes, nested graphs, or as a graph output); dtypes are IEEE floats; the ReduceMeans of a norm
 * have keepdims=1 and constant axes that normalize to the same trailing axes [r−k, r) of x (k ≥ 1)
 * whose dims are static; scalar constants have one element and a rank no larger than x's, so they
 * never change a shape; √2, 1/√2, √(2/π) and 0.044715 match within 1e-6 relative, 0.5, 1, 2, 3
 * and -0.5 exactly; gamma and beta have x's dtype and broadcast onto the normalized dims only
 * (leading size-1 dims aside, no larger rank than x).
 *
 * The fused node takes the place (and the output value, so graph outputs keep their names) of the
 * pattern's last node, and the name of its first one. Matching repeats until nothing matches, so
 * one run reaches a fixpoint (the pass is idempotent). The fused ops compute statistics in float64
 * where the primitive chain rounds every step, so results differ by float rounding only.
 */
import type { Graph, Node, Value } from "../ir/graph.ts";
import { Tensor } from "../ir/tensor.ts";
import { elidedSummary } from "../ir/text.ts";
import { pass as eliminateDead } from "./eliminate-dead.ts";
import type { Pass, PassContext } from "./pass.ts";
import { IEEE_FLOATS, addConstant, constInts, definedNames, readCounts, tensorParts, topLevelReaders } from "./rewrite.ts";

/** A matched pattern: its nodes (the last produces the result), and what the last one becomes. */
interface Match {
  nodes: Node[];
  op: "LayerNormalization" | "RMSNormalization" | "Gelu" | "Swish";
  inputs: (Value | undefined)[];
  attrs: Node["attrs"];
}

interface State {
  graph: Graph;
  names: Set<string>;
  counts: Map<Value, number>;
  /** readers of each value among top-level nodes (each node once) */
  readers: Map<Value, Node[]>;
  /** nodes already part of a match in this sweep */
  used: Set<Node>;
}

/** Whether `v` is read exactly by the nodes `nodes` (all of its reads, nested ones included), none used. */
function readOnlyBy(s: State, v: Value, nodes: readonly Node[]): boolean {
  if (s.graph.outputs.includes(v)) return false;
  const want = new Set(nodes);
  const rs = s.readers.get(v) ?? [];
  if (rs.length !== want.size || rs.some((n) => !want.has(n) || s.used.has(n))) return false;
  let reads = 0;
  for (const n of want) for (const i of n.inputs) if (i === v) reads++;
  return s.counts.get(v) === reads;
}

/** The one node reading `v` (all of v's reads), when there is exactly one and it is unused. */
function soleReader(s: State, v: Value | undefined): Node | undefined {
  if (!v) return undefined;
  const r = s.readers.get(v);
  return r && r.length === 1 && readOnlyBy(s, v, r) ? r[0] : undefined;
}

/** The operand of a binary node that is not `v` (undefined when both are v, or v is not one). */
function other(n: Node, v: Value): Value | undefined {
  if (n.inputs.length !== 2) return undefined;
  const [a, b] = n.inputs;
  if (a === v && b !== v) return b;
  if (b === v && a !== v) return a;
  return undefined;
}

/** An addition of two values: Add, or Sum of two inputs (what ONNX function bodies use). */
function isAdd(n: Node | undefined): n is Node {
  return n !== undefined && (n.op === "Add" || (n.op === "Sum" && n.inputs.length === 2));
}

/** The dtype and shape of a float tensor value (shape possibly unknown). */
function floatTensor(v: Value | undefined): { dtype: Tensor["dtype"]; shape: readonly (number | string)[] | undefined } | undefined {
  const t = tensorParts(v?.type);
  return t && IEEE_FLOATS.has(t.dtype) ? t : undefined;
}

/**
 * The value of a one-element constant of rank at most `rank` (so it broadcasts without changing a
 * shape of that rank), of dtype `dtype` when given.
 */
function scalarOf(v: Value | undefined, rank: number, dtype?: Tensor["dtype"]): number | undefined {
  const t = v?.const;
  if (!t || t.size !== 1 || t.rank > rank || t.dtype === "string" || elidedSummary(t)) return undefined;
  if (dtype !== undefined && t.dtype !== dtype) return undefined;
  return Number(t.data[0]);
}

function near(x: number | undefined, want: number): boolean {
  return x !== undefined && Math.abs(x - want) <= 1e-6 * Math.abs(want);
}

/** What a pattern over the value x knows: its dtype and the largest rank a scalar may have. */
interface Operand {
  x: Value;
  dtype: Tensor["dtype"];
  rank: number;
}

function operand(x: Value | undefined): Operand | undefined {
  const t = floatTensor(x);
  return x && t ? { x, dtype: t.dtype, rank: t.shape?.length ?? 0 } : undefined;
}

// ---------------------------------------------------------------------------------------------
// LayerNorm / RMSNorm

/** The axes a ReduceMean with keepdims=1 reduces over x of rank `rank` (sorted), or undefined. */
function meanAxes(n: Node | undefined, rank: number): number[] | undefined {
  if (n?.op !== "ReduceMean" || (n.attrs.keepdims ?? 1) !== 1) return undefined;
  const noop = (n.attrs.noop_with_empty_axes ?? 0) !== 0;
  const all = Array.from({ length: rank }, (_, i) => i);
  if (n.inputs[1] === undefined) return noop ? undefined : all;
  const raw = constInts(n.inputs[1]);
  if (!raw || n.inputs[1].const?.dtype !== "i64") return undefined;
  if (raw.length === 0) return noop ? undefined : all;
  const axes = raw.map((a) => (a < 0 ? a + rank : a));
  if (axes.some((a) => !(a >= 0 && a < rank))) return undefined;
  return [...new Set(axes)].sort((a, b) => a - b);
}

/** The inverse standard deviation applied to `u` from the variance `v` (see the header). */
function matchInvStd(s: State, u: Value, v: Value, o: Operand): { eps: number; nodes: Node[] } | undefined {
  const nodes: Node[] = [];
  let eps = 0;
  let cur = v;
  let r = soleReader(s, cur);
  if (isAdd(r)) {
    const e = scalarOf(other(r, cur), o.rank, o.dtype);
    if (e === undefined) return undefined;
    eps = e;
    nodes.push(r);
    cur = r.outputs[0]!;
    r = soleReader(s, cur);
  }
  if (!r || r.inputs[0] !== cur) return undefined;
  let inv: Node | undefined;
  if (r.op === "Sqrt") {
    nodes.push(r);
    const sq = r.outputs[0]!;
    const q = soleReader(s, sq);
    if (q?.op === "Div" && q.inputs[0] === u && q.inputs[1] === sq) return { eps, nodes: [...nodes, q] };
    if (q?.op === "Reciprocal" || (q?.op === "Div" && q.inputs[1] === sq && scalarOf(q.inputs[0], o.rank, o.dtype) === 1)) inv = q;
  } else if (r.op === "Pow" && scalarOf(r.inputs[1], o.rank) === -0.5) {
    inv = r;
  }
  if (!inv) return undefined;
  nodes.push(inv);
  const rs = inv.outputs[0]!;
  const mul = soleReader(s, rs);
  if (mul?.op !== "Mul" || other(mul, rs) !== u) return undefined;
  return { eps, nodes: [...nodes, mul] };
}

/** Whether `p` (gamma or beta) has the dtype of x and broadcasts onto its normalized dims only. */
function affineParam(p: Value | undefined, dtype: Tensor["dtype"], shape: readonly (number | string)[], axis: number): p is Value {
  const t = tensorParts(p?.type);
  if (!p || !t || t.dtype !== dtype || !t.shape || t.shape.length > shape.length) return false;
  let first = 0;
  while (first < t.shape.length && t.shape[first] === 1) first++;
  const dims = t.shape.slice(first);
  if (dims.length > shape.length - axis) return false;
  const off = shape.length - dims.length;
  return dims.every((d, i) => d === 1 || d === shape[off + i]);
}

/** A LayerNorm or RMSNorm whose variance is the ReduceMean `rv`. */
function matchNorm(s: State, rv: Node): Match | undefined {
  const p = rv.inputs[0];
  const sq = p?.producer;
  if (!p || !sq || s.used.has(sq) || soleReader(s, p) !== rv) return undefined;
  const u = sq.inputs[0];
  const o = operand(u);
  if (!u || !o) return undefined;
  if (sq.op === "Pow" ? scalarOf(sq.inputs[1], o.rank) !== 2 : !(sq.op === "Mul" && sq.inputs[1] === u)) return undefined;
  const shape = floatTensor(u)?.shape;
  if (!shape) return undefined;
  const rank = shape.length;
  const axes = meanAxes(rv, rank);
  if (!axes || axes.length === 0 || axes.some((a, i) => a !== rank - axes.length + i)) return undefined;
  const axis = rank - axes.length;
  const normDims = shape.slice(axis);
  if (!normDims.every((d): d is number => typeof d === "number")) return undefined;
  const tail = matchInvStd(s, u, rv.outputs[0]!, o);
  if (!tail) return undefined;
  const yNode = tail.nodes[tail.nodes.length - 1]!;
  const nodes = [sq, rv, ...tail.nodes];
  // centered (LayerNorm): u = Sub(x, ReduceMean(x)) over the same axes, u read only here
  let x = u;
  let layer = false;
  const sub = u.producer;
  const m = sub?.inputs[1];
  const mn = m?.producer;
  if (sub?.op === "Sub" && !s.used.has(sub) && m && mn && !s.used.has(mn) && sub.inputs[0] === mn.inputs[0] &&
    soleReader(s, m) === sub && readOnlyBy(s, u, [sq, yNode]) && meanAxes(mn, rank)?.join() === axes.join()) {
    x = sub.inputs[0]!;
    layer = true;
    nodes.unshift(mn, sub);
  }
  // affine tail: Mul by gamma, then (LayerNorm) Add of beta
  let out = yNode.outputs[0]!;
  let scale: Value | undefined;
  let bias: Value | undefined;
  const mul = soleReader(s, out);
  const g = mul?.op === "Mul" ? other(mul, out) : undefined;
  if (mul && affineParam(g, o.dtype, shape, axis)) {
    scale = g;
    nodes.push(mul);
    out = mul.outputs[0]!;
  }
  const add = layer ? soleReader(s, out) : undefined;
  const b = isAdd(add) ? other(add, out) : undefined;
  if (add && affineParam(b, o.dtype, shape, axis)) {
    bias = b;
    nodes.push(add);
  }
  if (!scale) {
    const ones = Tensor.zeros(o.dtype, normDims);
    ones.data.fill(1);
    scale = addConstant(s.graph, s.names, `${nodes[nodes.length - 1]!.outputs[0]!.name}.scale`, ones);
  }
  const attrs = { axis: -axes.length, epsilon: eps(tail.eps) };
  return layer
    ? { nodes, op: "LayerNormalization", inputs: bias ? [x, scale, bias] : [x, scale], attrs }
    : { nodes, op: "RMSNormalization", inputs: [x, scale], attrs };
}

/** An epsilon attribute: the constant's value (-0 as 0). */
function eps(v: number): number {
  return v === 0 ? 0 : v;
}

// ---------------------------------------------------------------------------------------------
// GELU / SiLU

/** x·0.5 as one node (Mul either order, or Div by 2) whose result only `reader` reads. */
function isHalfOf(s: State, h: Value, o: Operand, reader: Node): Node | undefined {
  const n = h.producer;
  if (!n || s.used.has(n) || soleReader(s, h) !== reader) return undefined;
  if (n.op === "Div") return n.inputs[0] === o.x && scalarOf(n.inputs[1], o.rank, o.dtype) === 2 ? n : undefined;
  return n.op === "Mul" && scalarOf(other(n, o.x), o.rank, o.dtype) === 0.5 ? n : undefined;
}

/** The product of `t` (one factor), x and 0.5 in any order; its nodes after t, the last giving it. */
function matchProduct(s: State, t: Value, o: Operand): Node[] | undefined {
  const nodes: Node[] = [];
  let needX = true;
  let needHalf = true;
  let cur = t;
  while (needX || needHalf) {
    const r = soleReader(s, cur);
    if (!r) return undefined;
    if (r.op === "Div" && needHalf && r.inputs[0] === cur && scalarOf(r.inputs[1], o.rank, o.dtype) === 2) {
      needHalf = false;
    } else if (r.op === "Mul") {
      const f = other(r, cur);
      if (!f) return undefined;
      let h: Node | undefined;
      if (f === o.x && needX) needX = false;
      else if (needHalf && scalarOf(f, o.rank, o.dtype) === 0.5) needHalf = false;
      else if (needX && needHalf && (h = isHalfOf(s, f, o, r))) {
        nodes.push(h);
        needX = needHalf = false;
      } else return undefined;
    } else return undefined;
    nodes.push(r);
    cur = r.outputs[0]!;
  }
  return nodes;
}

/** 1 + f (Add of the constant 1, either order) where f is only read by it; the Add. */
function onePlus(s: State, f: Value, o: Operand): Node | undefined {
  const a = soleReader(s, f);
  return isAdd(a) && scalarOf(other(a, f), o.rank, o.dtype) === 1 ? a : undefined;
}

/** x scaled by a constant near `k` (Mul either order), or near 1/k when `div` allows Div by k. */
function scaledArg(n: Node, k: number, div: boolean): Operand | undefined {
  if (div && n.op === "Div") {
    const o = operand(n.inputs[0]);
    return o && near(scalarOf(n.inputs[1], o.rank, o.dtype), 1 / k) ? o : undefined;
  }
  if (n.op !== "Mul") return undefined;
  for (const i of [0, 1]) {
    const o = operand(n.inputs[i]);
    if (o && !o.x.const && near(scalarOf(n.inputs[1 - i], o.rank, o.dtype), k)) return o;
  }
  return undefined;
}

/** Exact GELU around the Erf node `e`. */
function matchGeluErf(s: State, e: Node): Match | undefined {
  const arg = e.inputs[0];
  const pre = arg?.producer;
  if (!arg || !pre || s.used.has(pre) || soleReader(s, arg) !== e) return undefined;
  const o = scaledArg(pre, Math.SQRT1_2, true);
  if (!o) return undefined;
  const add = onePlus(s, e.outputs[0]!, o);
  const prod = add && matchProduct(s, add.outputs[0]!, o);
  if (!add || !prod) return undefined;
  return { nodes: [pre, e, add, ...prod], op: "Gelu", inputs: [o.x], attrs: {} };
}

/** x³ as Pow(x, 3), Mul(x, Mul(x, x)) or Mul(Mul(x, x), x); its nodes. */
function cubeOf(s: State, c: Value, o: Operand, reader: Node): Node[] | undefined {
  const n = c.producer;
  if (!n || s.used.has(n) || soleReader(s, c) !== reader || n.inputs[0] === undefined) return undefined;
  if (n.op === "Pow") return n.inputs[0] === o.x && scalarOf(n.inputs[1], o.rank) === 3 ? [n] : undefined;
  if (n.op !== "Mul") return undefined;
  const sqv = other(n, o.x);
  const sq = sqv?.producer;
  if (!sqv || !sq || s.used.has(sq) || sq.op !== "Mul" || sq.inputs[0] !== o.x || sq.inputs[1] !== o.x) return undefined;
  return soleReader(s, sqv) === n ? [sq, n] : undefined;
}

/** GELU in its tanh form around the Tanh node `th`. */
function matchGeluTanh(s: State, th: Node): Match | undefined {
  const q = th.inputs[0];
  const qn = q?.producer;
  if (!q || !qn || s.used.has(qn) || qn.op !== "Mul" || soleReader(s, q) !== th) return undefined;
  // qn = √(2/π) · inner, inner = x + 0.044715·x³
  const K = Math.sqrt(2 / Math.PI);
  for (const i of [0, 1]) {
    const inner = qn.inputs[i];
    const an = inner?.producer;
    if (!inner || !an || !isAdd(an) || s.used.has(an) || soleReader(s, inner) !== qn) continue;
    const ot = operand(inner);
    if (!ot || !near(scalarOf(qn.inputs[1 - i], ot.rank, ot.dtype), K)) continue;
    for (const j of [0, 1]) {
      const o = operand(an.inputs[j]);
      const w = an.inputs[1 - j];
      const wn = w?.producer;
      if (!o || !w || !wn || wn.op !== "Mul" || s.used.has(wn) || soleReader(s, w) !== an) continue;
      for (const k of [0, 1]) {
        const cube = wn.inputs[k];
        if (!cube || !near(scalarOf(wn.inputs[1 - k], o.rank, o.dtype), 0.044715)) continue;
        const cn = cubeOf(s, cube, o, wn);
        const add = cn && onePlus(s, th.outputs[0]!, o);
        const prod = add && matchProduct(s, add.outputs[0]!, o);
        if (cn && add && prod) {
          return { nodes: [...cn, wn, an, qn, th, add, ...prod], op: "Gelu", inputs: [o.x], attrs: { approximate: "tanh" } };
        }
      }
    }
  }
  return undefined;
}

/** SiLU / Swish around the Sigmoid node `sg`. */
function matchSwish(s: State, sg: Node): Match | undefined {
  const z = sg.outputs[0]!;
  const mul = soleReader(s, z);
  const x = mul?.op === "Mul" ? other(mul, z) : undefined;
  const o = operand(x);
  if (!mul || !o) return undefined;
  if (sg.inputs[0] === o.x) return { nodes: [sg, mul], op: "Swish", inputs: [o.x], attrs: {} };
  // Sigmoid(a·x)
  const arg = sg.inputs[0];
  const an = arg?.producer;
  if (!arg || !an || an.op !== "Mul" || s.used.has(an) || soleReader(s, arg) !== sg) return undefined;
  const alpha = scalarOf(other(an, o.x), o.rank, o.dtype);
  if (alpha === undefined || !Number.isFinite(alpha)) return undefined;
  return { nodes: [an, sg, mul], op: "Swish", inputs: [o.x], attrs: { alpha } };
}

// ---------------------------------------------------------------------------------------------

const ROOTS: Readonly<Partial<Record<string, (s: State, n: Node) => Match | undefined>>> = {
  ReduceMean: matchNorm,
  Erf: matchGeluErf,
  Tanh: matchGeluTanh,
  Sigmoid: matchSwish,
};

/** One sweep over the nodes; returns the nodes to remove (empty: nothing matched). */
function sweep(graph: Graph, names: Set<string>): Set<Node> {
  const readers = topLevelReaders(graph);
  const s: State = { graph, names, counts: readCounts(graph), readers, used: new Set() };
  const removed = new Set<Node>();
  const order = new Map(graph.nodes.map((g, i) => [g, i]));
  for (const n of graph.nodes) {
    const match = ROOTS[n.op];
    if (!match || s.used.has(n)) continue;
    const m = match(s, n);
    if (!m) continue;
    // the fused node takes the place of the last node (after all of the pattern's inputs)
    const nodes = [...m.nodes].sort((a, b) => order.get(a)! - order.get(b)!);
    const first = nodes[0]!;
    const last = nodes[nodes.length - 1]!;
    for (const d of nodes) s.used.add(d);
    for (const d of nodes.slice(0, -1)) removed.add(d);
    last.op = m.op;
    last.name = first.name;
    last.inputs = m.inputs;
    last.attrs = m.attrs;
  }
  return removed;
}

export const pass: Pass = {
  name: "fuse-norm",
  run(graph: Graph, ctx: PassContext): boolean {
    const names = definedNames(graph);
    let changed = false;
    for (;;) {
      const removed = sweep(graph, names);
      if (removed.size === 0) break;
      graph.nodes = graph.nodes.filter((n) => !removed.has(n));
      changed = true;
    }
    if (changed) eliminateDead.run(graph, ctx);
    return changed;
  },
};
