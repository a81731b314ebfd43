/**
 * layout: runs NCHW convolution networks channels-last (NHWC) on targets whose capabilities prefer
 * it (`TargetCaps.layout === "nhwc"`); for any other target, or none, it changes nothing.
 *
 * 1. Wrap: every top-level 2-D Conv / FusedConv and MaxPool (without Indices) / AveragePool /
 *    GlobalAveragePool with f32 or f16 input and output of static rank-4 shapes becomes
 *    Transpose(x, [0,2,3,1]) → op{channels_last=1} → Transpose(·, [0,3,1,2]); a Conv becomes a
 *    FusedConv without epilogue, a FusedConv's residual gets a Transpose too, the weight keeps
 *    ONNX's layout (ir/ops/fused.ts says why). The last Transpose produces the original output
 *    value, so readers and graph outputs (names, NCHW shapes) are untouched. Channels-last nodes
 *    are never wrapped again. Targets that may not build FusedConv (`fusedOps`) are left alone.
 * 2. Sink and cancel, over every Transpose t = Transpose(a, p), until nothing applies:
 *    - t by the identity goes; t of a constant folds (up to foldLimit); t equal to an earlier
 *      Transpose of a by p is replaced by it;
 *    - Transpose(Transpose(x, p0), p) becomes Transpose(x, p0∘p), the identity when an op's
 *      [0,3,1,2] meets the next op's [0,2,3,1];
 *    - t moves below its readers when all of them can take it (t must not be a graph output or be
 *      read in a subgraph): N(t, …) becomes Transpose(N'(a, …), p') with N' in a's layout:
 *      · elementwise ops (Clip, PRelu, Where, Cast, Identity included), Concat: each other operand
 *        is Transpose(b, p) (b is read), a constant of rank ≤ rank(p) (expanded and permuted by
 *        p⁻¹), a value of one element, or an output of another reader of t (read through
 *        Transpose(·, p⁻¹), which cancels once that reader has moved too: a residual diamond);
 *      · Concat, Split, Softmax, LogSoftmax, Hardmax: axis k becomes p[k]; Slice with constant
 *        (or absent) axes and Reduce* with constant axes whose dims keep their order in a: each
 *        axis k becomes p[k] (keepdims=0: p' keeps the order of the dims left, and no Transpose
 *        is needed when that is the identity, as for ShuffleNet's mean over H, W);
 *      · Reshape / Flatten / Squeeze / Unsqueeze, static shapes: the non-1 dims of t's output and
 *        of the reshape's are matched into groups of equal product, and Reshape(T_p(a)) =
 *        T_q(Reshape(T_p1(a))) where p1 gathers each group's dims of a and q moves whole groups.
 *        Done when p1 moves only 1-dims (t moves below the reshape, or vanishes when q is trivial
 *        too: GlobalAveragePool → Flatten), or when q moves something and every reader of the
 *        reshape can take T_q (ShuffleNet's channel shuffle becomes a shuffle of the NHWC tensor).
 *        A Flatten of a feature map with spatial extent keeps t: there p1 is the conversion.
 *    Each step removes or merges a Transpose or moves one below a node, never above; the T_p1
 *    a reshape split leaves cannot split again (its q is trivial). A cap on the rounds guards it.
 * 3. A Transpose left that moves only dims of size 1 becomes a Reshape (a view).
 *
 * Every rewrite is exact: transposes move elements, and a rewritten node computes the same values
 * with its dims in another order (a reduction adds its terms in the same order, since its reduced
 * dims keep theirs). Deterministic: graph order throughout, fresh names. Small constants the pass
 * makes reuse equal ones (so eliminate-common finds nothing to merge afterwards). Not handled, so
 * a Transpose stays before them: Pad, Resize, LRN and other ops with channel semantics, non-2-D
 * convs, dynamic shapes.
 */
import { type Graph, Node, Value, type ValueType } from "../ir/graph.ts";
import { inferNode } from "../ir/infer.ts";
import type { OpKind } from "../ir/ops.ts";
import { Tensor } from "../ir/tensor.ts";
import { elidedSummary } from "../ir/text.ts";
import { transposeView } from "../ir/ops/shape-util.ts";
import { NCHW_TO_NHWC, NHWC_TO_NCHW } from "../ir/ops/nn-pool.ts";
import { pass as eliminateDead } from "./eliminate-dead.ts";
import type { Pass, PassContext } from "./pass.ts";
import { addConstant, constInts, definedNames, freshName, readCounts, replaceValue, tensorParts } from "./rewrite.ts";

const FLOATS: ReadonlySet<string> = new Set(["f32", "f16"]);
const CONVS: ReadonlySet<string> = new Set(["Conv", "FusedConv"]);
const POOLS: ReadonlySet<string> = new Set(["MaxPool", "AveragePool", "GlobalAveragePool"]);
/** Ops that apply the same function at every element (numpy broadcasting, no axis attributes). */
const ELEMENTWISE: ReadonlySet<string> = new Set([
  "Add", "Sub", "Mul", "Div", "Pow", "Mod", "Max", "Min", "Sum", "Mean", "PRelu", "Where", "Clip",
  "Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor", "Not",
  "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot",
  "Neg", "Abs", "Sign", "Reciprocal", "Sqrt", "Exp", "Log", "Floor", "Ceil", "Round", "Erf", "Sin", "Cos", "Tan",
  "Asin", "Acos", "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Sigmoid", "Tanh", "Relu", "LeakyRelu", "Elu",
  "Selu", "Celu", "ThresholdedRelu", "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Gelu", "Mish", "Swish",
  "Shrink", "IsNaN", "IsInf", "Cast", "Identity",
]);
const REDUCES: ReadonlySet<string> = new Set([
  "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
  "ReduceLogSumExp", "ReduceSumSquare",
]);
const RESHAPES: ReadonlySet<string> = new Set(["Reshape", "Flatten", "Squeeze", "Unsqueeze"]);
/** Ops with one `axis` attribute that map element positions along it, the other dims unchanged. */
const AXIS_OPS: ReadonlySet<string> = new Set(["Concat", "Split", "Softmax", "LogSoftmax", "Hardmax"]);

// ---------------------------------------------------------------------------------------------
// Permutations and shapes

const isIdentity = (p: readonly number[]): boolean => p.every((x, i) => x === i);

function inverse(p: readonly number[]): number[] {
  const q = new Array<number>(p.length);
  p.forEach((x, i) => (q[x] = i));
  return q;
}

/** Whether Transpose(x, p) keeps the order of x's dims that are not 1 (then it is a reshape). */
function movesOnlyOnes(p: readonly number[], xShape: readonly number[]): boolean {
  const moved = p.filter((i) => xShape[i] !== 1);
  return moved.every((x, i) => i === 0 || moved[i - 1]! < x);
}

/** A value's static shape (every dim a known size), or undefined. */
function dimsOf(v: Value | undefined): number[] | undefined {
  const s = tensorParts(v?.type)?.shape;
  return s && s.every((d): d is number => typeof d === "number") ? [...s] : undefined;
}

/** A Transpose's permutation, normalized (absent: reversed dims), or undefined when unknown. */
function permOf(n: Node): number[] | undefined {
  const p = n.attrs.perm;
  const rank = tensorParts(n.inputs[0]?.type)?.shape?.length;
  if (Array.isArray(p)) {
    const q = (p as readonly number[]).map((a) => (a < 0 ? a + p.length : a));
    return rank === undefined || rank === q.length ? q : undefined;
  }
  return rank === undefined ? undefined : Array.from({ length: rank }, (_, i) => rank - 1 - i);
}

function permutedType(t: ValueType, p: readonly number[]): ValueType | undefined {
  if (t.kind !== "tensor" || !t.shape || t.shape.length !== p.length) return undefined;
  const s = t.shape;
  return { kind: "tensor", dtype: t.dtype, shape: p.map((i) => s[i]!) };
}

const sameType = (a: ValueType | undefined, b: ValueType | undefined): boolean => a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b);

/**
 * Reshape(Transpose(a, p), out) as Transpose(Reshape(Transpose(a, p1), inner), q), or undefined
 * when the non-1 dims of a (in t's order) and of out do not split into groups of equal product.
 */
function splitReshape(aShape: readonly number[], p: readonly number[], out: readonly number[]): { p1: number[]; inner: number[]; q: number[] } | undefined {
  if (aShape.some((d) => d <= 0) || out.some((d) => d <= 0)) return undefined;
  const bIdx = p.filter((i) => aShape[i] !== 1);
  const sIdx = out.map((_, j) => j).filter((j) => out[j] !== 1);
  const groups: { a: number[]; s: number[] }[] = [];
  let i = 0;
  let j = 0;
  while (i < bIdx.length && j < sIdx.length) {
    const g = { a: [bIdx[i]!], s: [sIdx[j]!] };
    let pa = aShape[bIdx[i++]!]!;
    let ps = out[sIdx[j++]!]!;
    while (pa !== ps && (pa < ps ? i < bIdx.length : j < sIdx.length)) {
      if (pa < ps) {
        g.a.push(bIdx[i]!);
        pa *= aShape[bIdx[i++]!]!;
      } else {
        g.s.push(sIdx[j]!);
        ps *= out[sIdx[j++]!]!;
      }
    }
    if (pa !== ps) return undefined;
    groups.push(g);
  }
  if (i !== bIdx.length || j !== sIdx.length) return undefined;
  // p1: a's dims in order, each group's dims together (in t's order) where the first of them is
  const p1: number[] = [];
  const placed: number[] = [];
  for (let d = 0; d < aShape.length; d++) {
    const k = groups.findIndex((g) => g.a.includes(d));
    if (k < 0) p1.push(d);
    else if (!placed.includes(k)) {
      placed.push(k);
      p1.push(...groups[k]!.a);
    }
  }
  // units of out: each group's span (1-dims inside included) in p1's order; every other 1-dim of
  // out follows the unit holding the dim before it (or goes first)
  const units: number[][] = placed.map((k) => {
    const g = groups[k]!.s;
    return Array.from({ length: g[g.length - 1]! - g[0]! + 1 }, (_, x) => g[0]! + x);
  });
  const unitOf = new Array<number>(out.length).fill(-1);
  units.forEach((u, k) => u.forEach((x) => (unitOf[x] = unitOf[x] === -1 ? k : -2)));
  if (unitOf.includes(-2)) return undefined;
  const order = units.map((_, k) => k);
  for (let x = 0; x < out.length; x++) {
    if (unitOf[x] !== -1) continue;
    unitOf[x] = units.push([x]) - 1;
    order.splice(x === 0 ? 0 : order.indexOf(unitOf[x - 1]!) + 1, 0, unitOf[x]!);
  }
  const dims = order.flatMap((k) => units[k]!);
  return { p1, inner: dims.map((x) => out[x]!), q: out.map((_, x) => dims.indexOf(x)) };
}

// ---------------------------------------------------------------------------------------------
// State and node surgery

interface State {
  graph: Graph;
  ctx: PassContext;
  names: Set<string>;
  counts: Map<Value, number>;
  /** top-level readers of each value (each node once) and how many input slots read it */
  readers: Map<Value, Node[]>;
  slots: Map<Value, number>;
  /** permuted constants by source and permutation; small constants by content (internConst) */
  consts: Map<string, Value>;
  /** the readers of the Transpose being moved (see operandsFor) */
  siblings: ReadonlySet<Node>;
  /** placeholder operands of plans, and what makes the real operand when the plan is applied to a node */
  pending: Map<Value, (r: Node) => Value>;
  /** values made by the pass, with the name each was meant to have */
  created: Map<Value, string>;
}

function refresh(s: State): void {
  s.names = definedNames(s.graph);
  s.counts = readCounts(s.graph);
  s.readers = new Map();
  s.slots = new Map();
  for (const n of s.graph.nodes) {
    for (const v of n.inputs) if (v) s.slots.set(v, (s.slots.get(v) ?? 0) + 1);
    for (const v of new Set(n.inputs)) {
      if (!v) continue;
      const list = s.readers.get(v);
      if (list) list.push(n);
      else s.readers.set(v, [n]);
    }
  }
}

/** A new value named after `base` (tidied at the end: see tidyNames). */
function newValue(s: State, base: string, t: ValueType): Value {
  const v = new Value(freshName(s.names, base), t);
  s.created.set(v, base);
  return v;
}

/** Gives the values this pass made the name they were meant to have, where it is free by now. */
function tidyNames(s: State): void {
  const names = definedNames(s.graph);
  const live = new Set(s.graph.nodes.flatMap((n) => n.outputs));
  for (const [v, base] of s.created) {
    if (v.name === base || names.has(base) || !live.has(v)) continue;
    names.delete(v.name);
    v.name = base;
    names.add(base);
  }
}

/** A node name for a Transpose by `p` after node `name`. */
function transposeName(name: string, p: readonly number[]): string {
  const k = p.join();
  return `${name}.${k === NHWC_TO_NCHW.join() ? "to_nchw" : k === NCHW_TO_NHWC.join() ? "to_nhwc" : "transpose"}`;
}

function suffixOf(p: readonly number[]): string {
  return p.join() === NCHW_TO_NHWC.join() ? "nhwc" : `perm${p.join("")}`;
}

/** A Transpose node of `x` by `p` with a fresh output value. */
function transposeOf(s: State, x: Value, p: readonly number[], nodeName: string): Node {
  const out = newValue(s, `${x.name}.${suffixOf(p)}`, permutedType(x.type, p)!);
  return new Node("Transpose", nodeName, [x], [out], { perm: [...p] });
}

function insertAt(s: State, anchor: Node, nodes: readonly Node[], after: boolean): void {
  const i = s.graph.nodes.indexOf(anchor);
  s.graph.nodes.splice(after ? i + 1 : i, 0, ...nodes);
}

/** A placeholder operand of type `t` for a plan; `make` gives the real one when the plan is applied. */
function placeholder(s: State, t: ValueType, make: (r: Node) => Value, konst?: Tensor): Value {
  const v = new Value("pending", t, konst);
  s.pending.set(v, make);
  return v;
}

/** Constants up to this size are shared by content (eliminate-common merges equal ones too). */
const SHARED_CONST_BYTES = 4096;

function constKey(t: Tensor): string | undefined {
  if (t.dtype === "string" || elidedSummary(t)) return undefined;
  const raw = t.raw();
  return raw.byteLength <= SHARED_CONST_BYTES ? `${t.dtype}[${t.shape.join(",")}]${Buffer.from(raw).toString("hex")}` : undefined;
}

/** A constant holding `t` (cached under `key`, or by content when small): an equal one when known, else a new one. */
function internConst(s: State, base: string, t: Tensor, key = constKey(t)): Value {
  const known = key === undefined ? undefined : s.consts.get(key);
  if (known && s.graph.constants.includes(known)) return known;
  const v = addConstant(s.graph, s.names, base, t);
  if (key !== undefined) s.consts.set(key, v);
  return v;
}

/** A placeholder for a rank-1 i64 constant holding `xs` (axes, shapes). */
function intsOperand(s: State, base: string, xs: readonly number[]): Value {
  const t = Tensor.of("i64", xs);
  return placeholder(s, { kind: "tensor", dtype: "i64", shape: [xs.length] }, () => internConst(s, base, t), t);
}

/**
 * The constant `c` as an operand that broadcasts against rank `rank`, in the layout reached by
 * `pinv`: expanded to that rank and permuted (unchanged when it holds one element).
 */
function permutedConst(s: State, c: Value, rank: number, pinv: readonly number[]): Value | undefined {
  const t = c.const;
  if (!t || t.dtype === "string" || t.rank > rank || elidedSummary(t)) return undefined;
  if (t.size === 1) return c;
  const out = transposeView(t, [...new Array<number>(rank - t.rank).fill(1), ...t.shape], pinv);
  const key = constKey(out) ?? `${c.name}\u0000${pinv.join()}`;
  return placeholder(s, { kind: "tensor", dtype: t.dtype, shape: [...out.shape] }, () => internConst(s, `${c.name}.${suffixOf(pinv)}`, out, key), out);
}

type Plan = () => void;

/**
 * A plan rewriting `r` as op(ins){attrs}, whose output k is original output k transposed by
 * outPerms[k] (a Transpose is added after r unless the types already agree). Inference on the new
 * form must give exactly the original output types once transposed; otherwise undefined.
 */
function rebuild(s: State, r: Node, op: OpKind, ins: (Value | undefined)[], attrs: Record<string, unknown>, outPerms: readonly (readonly number[])[]): Plan | undefined {
  const tmpOuts = r.outputs.map((o) => new Value(o.name, o.type));
  const tmp = new Node(op, r.name, ins, tmpOuts, attrs as Node["attrs"]);
  let types: ValueType[];
  try {
    types = inferNode(tmp);
  } catch {
    return undefined;
  }
  for (let k = 0; k < r.outputs.length; k++) {
    const t = types[k];
    if (!t || !sameType(permutedType(t, outPerms[k]!), r.outputs[k]!.type)) return undefined;
  }
  return () => {
    const after: Node[] = [];
    const outs = r.outputs.map((o, k) => {
      const t = types[k]!;
      // no Transpose when it would only move 1-dims without changing the shape
      const ts = tensorParts(t)?.shape;
      if (sameType(t, o.type) && ts && movesOnlyOnes(outPerms[k]!, ts as number[])) return o;
      const inner = newValue(s, `${o.name}.${suffixOf(inverse(outPerms[k]!))}`, t);
      after.push(new Node("Transpose", transposeName(r.outputs.length > 1 ? `${r.name}.${k}` : r.name, outPerms[k]!), [inner], [o], { perm: [...outPerms[k]!] }));
      return inner;
    });
    r.op = op;
    r.inputs = ins.map((v) => (v && s.pending.get(v)?.(r)) ?? v);
    r.attrs = attrs as Node["attrs"];
    r.outputs = outs;
    for (const o of outs) o.producer = r;
    if (after.length) insertAt(s, r, after, true);
  };
}

// ---------------------------------------------------------------------------------------------
// Readers that can take a Transpose

/**
 * The operands of `r` in a's layout, when each is `v` (= Transpose(a, p)), another Transpose by
 * p, an output of another reader of v, a constant (permuted) or a value of one element.
 */
function operandsFor(s: State, r: Node, v: Value, a: Value, p: readonly number[]): (Value | undefined)[] | undefined {
  const pinv = inverse(p);
  const out: (Value | undefined)[] = [...r.inputs];
  for (let i = 0; i < r.inputs.length; i++) {
    const x = r.inputs[i];
    if (x === undefined) continue;
    if (x === v) {
      out[i] = a;
      continue;
    }
    const prod = x.producer;
    const pp = prod?.op === "Transpose" ? permOf(prod) : undefined;
    if (prod && pp && pp.join() === p.join()) {
      out[i] = prod.inputs[0];
      continue;
    }
    // an output of another reader of the same Transpose, which moves below that reader too: read
    // it through Transpose(·, p⁻¹), which then cancels with the one the reader leaves
    if (prod && s.siblings.has(prod) && keepsPerm(prod) && prod.outputs.every((o) => tensorParts(o.type)?.shape?.length === p.length)) {
      out[i] = placeholder(s, permutedType(x.type, pinv)!, (at) => {
        const t = transposeOf(s, x, pinv, transposeName(at.name, pinv));
        insertAt(s, at, [t], false);
        return t.outputs[0]!;
      });
      continue;
    }
    if (x.const) {
      const c = permutedConst(s, x, p.length, pinv);
      if (!c) return undefined;
      out[i] = c;
      continue;
    }
    const xs = dimsOf(x);
    if (!xs || xs.length > p.length || xs.some((d) => d !== 1)) return undefined;
  }
  return out;
}

/** Whether a reader, moved below a Transpose by p, leaves Transposes by p on all its outputs. */
function keepsPerm(n: Node): boolean {
  if (REDUCES.has(n.op)) return (n.attrs.keepdims ?? 1) !== 0;
  return ELEMENTWISE.has(n.op) || AXIS_OPS.has(n.op);
}

/** The constant axes of input `i` of `r`, normalized against `rank`, or undefined. */
function constAxes(r: Node, i: number, rank: number): number[] | undefined {
  const axes = constInts(r.inputs[i]);
  if (!axes || axes.some((x) => x < -rank || x >= rank)) return undefined;
  return axes.map((x) => (x < 0 ? x + rank : x));
}

/** How reader `r` of `v` = Transpose(a, p) takes the Transpose; undefined when it cannot. */
function planReader(s: State, r: Node, v: Value, a: Value, p: readonly number[], lookahead: boolean): Plan | undefined {
  const rank = p.length;
  const onlyFirst = r.inputs.every((x, i) => (i === 0) === (x === v));
  if (r.op === "Transpose") {
    const q = permOf(r);
    if (!q || q.length !== rank) return undefined;
    return () => {
      r.inputs = [a];
      r.attrs = { ...r.attrs, perm: q.map((i) => p[i]!) };
    };
  }
  if (ELEMENTWISE.has(r.op)) {
    const ins = operandsFor(s, r, v, a, p);
    return ins && rebuild(s, r, r.op, ins, { ...r.attrs }, [p]);
  }
  if (AXIS_OPS.has(r.op)) {
    const axis = r.attrs.axis ?? (r.op === "Concat" || r.op === "Split" ? 0 : -1);
    if (typeof axis !== "number" || axis < -rank || axis >= rank) return undefined;
    const ins = r.op === "Concat" ? operandsFor(s, r, v, a, p) : onlyFirst ? [a, ...r.inputs.slice(1)] : undefined;
    const k = p[axis < 0 ? axis + rank : axis]!;
    return ins && rebuild(s, r, r.op, ins, { ...r.attrs, axis: k }, r.outputs.map(() => p));
  }
  if (r.op === "Slice" && onlyFirst) {
    let axes: number[] | undefined;
    if (r.inputs[3] === undefined) {
      const n = dimsOf(r.inputs[1])?.[0];
      axes = n === undefined || n > rank ? undefined : Array.from({ length: n }, (_, i) => i);
    } else axes = constAxes(r, 3, rank);
    if (!axes) return undefined;
    const ins = [a, r.inputs[1], r.inputs[2], intsOperand(s, `${r.name || r.outputs[0]!.name}.axes`, axes.map((x) => p[x]!)), r.inputs[4]];
    if (ins[4] === undefined) ins.pop();
    return rebuild(s, r, "Slice", ins, { ...r.attrs }, [p]);
  }
  if (REDUCES.has(r.op) && onlyFirst) {
    const keep = (r.attrs.keepdims ?? 1) !== 0;
    let axes: number[];
    if (r.inputs[1] === undefined) axes = (r.attrs.noop_with_empty_axes ?? 0) !== 0 ? [] : p.map((_, i) => i);
    else {
      const c = constAxes(r, 1, rank);
      if (!c) return undefined;
      axes = c.length === 0 && (r.attrs.noop_with_empty_axes ?? 0) === 0 ? p.map((_, i) => i) : c;
    }
    // the reduced dims must keep their order, so that every output adds its terms in the same order
    const inA = [...new Set(axes)].sort((x, y) => x - y).map((x) => p[x]!);
    if (inA.some((x, i) => i > 0 && inA[i - 1]! > x)) return undefined;
    const mapped = [...inA].sort((x, y) => x - y);
    let outPerm = [...p];
    if (!keep) {
      const kept = p.filter((d) => !mapped.includes(d));
      const sorted = [...kept].sort((x, y) => x - y);
      outPerm = kept.map((d) => sorted.indexOf(d));
    }
    const ins = r.inputs[1] === undefined ? [a] : [a, intsOperand(s, `${r.name || r.outputs[0]!.name}.axes`, mapped)];
    return rebuild(s, r, r.op, ins, { ...r.attrs }, [outPerm]);
  }
  if (RESHAPES.has(r.op) && onlyFirst) {
    const as = dimsOf(a);
    const os = dimsOf(r.outputs[0]);
    if (!as || !os || r.outputs.length !== 1) return undefined;
    const sp = splitReshape(as, p, os);
    if (!sp) return undefined;
    const p1Trivial = movesOnlyOnes(sp.p1, as);
    const qTrivial = movesOnlyOnes(sp.q, sp.inner);
    if (!p1Trivial) {
      if (qTrivial || lookahead) return undefined;
      // the Transpose left below must move on: every reader of the reshape takes it
      const out = r.outputs[0]!;
      const probe = new Value(out.name, { kind: "tensor", dtype: tensorParts(out.type)!.dtype, shape: sp.inner });
      const rs = s.readers.get(out) ?? [];
      const siblings = s.siblings;
      s.siblings = new Set();
      const ok = s.counts.get(out) === s.slots.get(out) && rs.length > 0 && rs.every((x) => planReader(s, x, out, probe, sp.q, true));
      s.siblings = siblings;
      if (!ok) return undefined;
    }
    // the inner reshape's type, checked directly (its spec is made only when the plan is applied)
    const innerShape = qTrivial ? os : sp.inner;
    const innerType: ValueType = { kind: "tensor", dtype: tensorParts(a.type)!.dtype, shape: innerShape };
    if (!sameType(qTrivial ? innerType : permutedType(innerType, sp.q), r.outputs[0]!.type)) return undefined;
    return () => {
      const orig = r.outputs[0]!;
      const spec = internConst(s, `${orig.name}.shape`, Tensor.of("i64", innerShape));
      let outV = orig;
      if (!qTrivial) {
        outV = newValue(s, `${orig.name}.${suffixOf(inverse(sp.q))}`, innerType);
        insertAt(s, r, [new Node("Transpose", transposeName(r.name, sp.q), [outV], [orig], { perm: sp.q })], true);
      }
      const pre = p1Trivial ? undefined : transposeOf(s, a, sp.p1, transposeName(r.name, sp.p1));
      if (pre) insertAt(s, r, [pre], false);
      r.op = "Reshape";
      r.inputs = [pre ? pre.outputs[0] : a, spec];
      r.attrs = {};
      r.outputs = [outV];
      outV.producer = r;
    };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Rewriting one Transpose

/** Applies the first rewrite of Transpose `t` that fits; returns whether the graph changed. */
function rewriteTranspose(s: State, t: Node): boolean {
  const a = t.inputs[0];
  const v = t.outputs[0]!;
  const p = permOf(t);
  if (!a || !p) return false;
  // the identity: readers read a
  if (isIdentity(p)) return replaceValue(s.graph, v, a, s.names);
  // a constant: fold
  const c = a.const;
  if (c && c.dtype !== "string" && c.size <= s.ctx.foldLimit && !elidedSummary(c) && c.rank === p.length && !s.graph.outputs.includes(v)) {
    const k = internConst(s, `${a.name}.${suffixOf(p)}`, transposeView(c, c.shape, p));
    return replaceValue(s.graph, v, k, s.names);
  }
  // the same Transpose as an earlier one: its readers read that one
  const nodes = s.graph.nodes;
  const twin = (s.readers.get(a) ?? []).find((o) => o !== t && o.op === "Transpose" && permOf(o)?.join() === p.join() && nodes.indexOf(o) < nodes.indexOf(t));
  if (twin && replaceValue(s.graph, v, twin.outputs[0]!, s.names)) return true;
  // Transpose of a Transpose: one Transpose
  const inner = a.producer;
  const p0 = inner?.op === "Transpose" ? permOf(inner) : undefined;
  if (inner && p0 && p0.length === p.length) {
    t.inputs = [inner.inputs[0]];
    t.attrs = { ...t.attrs, perm: p.map((i) => p0[i]!) };
    return true;
  }
  // below every reader
  const rs = s.readers.get(v);
  if (!rs || s.counts.get(v) !== s.slots.get(v)) return false;
  const plans: Plan[] = [];
  s.siblings = new Set(rs);
  for (const r of rs) {
    const plan = planReader(s, r, v, a, p, false);
    if (!plan) break;
    plans.push(plan);
  }
  s.siblings = new Set();
  if (plans.length !== rs.length) return false;
  for (const plan of plans) plan();
  s.graph.nodes.splice(s.graph.nodes.indexOf(t), 1);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Wrapping convolutions and pools

/** Makes `n` channels-last between two Transposes when it qualifies; returns whether it did. */
function wrap(s: State, n: Node): boolean {
  const conv = CONVS.has(n.op);
  if (!(conv || POOLS.has(n.op)) || (n.attrs.channels_last ?? 0) !== 0 || n.outputs.length !== 1) return false;
  const x = n.inputs[0];
  const y = n.outputs[0]!;
  const xs = dimsOf(x);
  const ys = dimsOf(y);
  const dt = tensorParts(x?.type)?.dtype;
  if (!x || !xs || !ys || xs.length !== 4 || ys.length !== 4 || !dt || !FLOATS.has(dt) || tensorParts(y.type)?.dtype !== dt) return false;
  // the inputs that turn channels-last: x, and a FusedConv's residual
  const moved = [0];
  if (conv) {
    if (dimsOf(n.inputs[1])?.length !== 4) return false;
    const res = n.inputs[3];
    if (res) {
      if (dimsOf(res)?.length !== 4) return false;
      moved.push(3);
    }
  }
  const yt = permutedType(y.type, NCHW_TO_NHWC)!;
  const probe = new Node(conv ? "FusedConv" : n.op, n.name, n.inputs.map((v, i) => (v && moved.includes(i) ? new Value(v.name, permutedType(v.type, NCHW_TO_NHWC)!) : v)), [new Value(y.name, yt)], { ...n.attrs, channels_last: 1 });
  let inferred: ValueType | undefined;
  try {
    inferred = inferNode(probe)[0];
  } catch {
    inferred = undefined;
  }
  if (!sameType(inferred, yt)) return false;
  const before = moved.map((i) => transposeOf(s, n.inputs[i]!, NCHW_TO_NHWC, `${n.name}.${i === 0 ? "" : "residual."}to_nhwc`));
  const ins = [...n.inputs];
  moved.forEach((i, k) => (ins[i] = before[k]!.outputs[0]));
  const yv = newValue(s, `${y.name}.nhwc`, yt);
  const node = new Node(probe.op, n.name, ins, [yv], probe.attrs);
  const after = new Node("Transpose", `${n.name}.to_nchw`, [yv], [y], { perm: [...NHWC_TO_NCHW] });
  s.graph.nodes.splice(s.graph.nodes.indexOf(n), 1, ...before, node, after);
  return true;
}

// ---------------------------------------------------------------------------------------------

/** Rounds of sinking before giving up (each round visits every Transpose once). */
const MAX_ROUNDS = 10_000;

export const pass: Pass = {
  name: "layout",
  run(graph: Graph, ctx: PassContext): boolean {
    const target = ctx.target;
    if (target?.layout !== "nhwc") return false;
    if (target.fusedOps !== undefined && !target.fusedOps.includes("FusedConv")) return false;
    const s: State = {
      graph, ctx, names: definedNames(graph), counts: new Map(), readers: new Map(), slots: new Map(), consts: new Map(),
      siblings: new Set(), pending: new Map(), created: new Map(),
    };
    for (const c of graph.constants) {
      const key = c.const && constKey(c.const);
      if (key !== undefined && !s.consts.has(key)) s.consts.set(key, c);
    }
    let changed = false;
    // 1. wrap; a graph without channels-last nodes is left alone (its own Transposes included)
    for (const n of [...graph.nodes]) if (wrap(s, n)) changed = true;
    if (!graph.nodes.some((n) => (n.attrs.channels_last ?? 0) !== 0)) return false;
    // 2. sink and cancel, round after round, until a round changes nothing
    refresh(s);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      let any = false;
      const live = new Set(graph.nodes);
      for (const t of graph.nodes.filter((n) => n.op === "Transpose")) {
        if (!live.has(t) || !rewriteTranspose(s, t)) continue;
        any = true;
        s.pending.clear();
        eliminateDead.run(graph, ctx);
        live.clear();
        for (const n of graph.nodes) live.add(n);
        refresh(s);
      }
      s.pending.clear();
      if (!any) break;
      changed = true;
    }
    // 3. a Transpose that only moves 1-dims is a Reshape
    for (const t of graph.nodes) {
      const p = t.op === "Transpose" ? permOf(t) : undefined;
      const xs = dimsOf(t.inputs[0]);
      const ys = dimsOf(t.outputs[0]);
      if (!p || !xs || !ys || !movesOnlyOnes(p, xs) || ys.some((d) => d <= 0)) continue;
      t.op = "Reshape";
      t.inputs = [t.inputs[0], internConst(s, `${t.outputs[0]!.name}.shape`, Tensor.of("i64", ys))];
      t.attrs = {};
      changed = true;
    }
    if (changed) {
      eliminateDead.run(graph, ctx);
      tidyNames(s);
    }
    return changed;
  },
};
