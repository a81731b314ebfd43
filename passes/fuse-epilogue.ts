/**
 * fuse-epilogue: folds what follows a Conv, MatMul or Gemm into one FusedConv / FusedMatMul /
 * FusedGemm node (ir/ops/fused.ts), y = act(op(x, w) + bias + residual):
 *
 * 1. bias: an Add of a constant — for Conv without B, a constant of C values along the channel
 *   axis (shape [C,1,1], [1,C,1,1], ...), which becomes B; for Gemm without C, a constant that
 *   broadcasts to [M,N], which becomes C (beta = 1); for MatMul, a constant that broadcasts to the
 *   output without changing its shape;
 * 2. residual: an Add of a computed value of the output's shape (known equal, symbolic dims too);
 * 3. activation: Relu, Sigmoid, Tanh, HardSwish, LeakyRelu, Gelu (approximate "none"), Clip with
 *   constant scalar min and max, SiLU as Swish with alpha 1 (what fuse-norm makes of it) or written
 *   as Mul(x, Sigmoid(x)), and exact Gelu written as Mul(Mul(x, Add(Erf(Div(x, √2)), 1)), 0.5).
 *
 * Each step is optional and they match in this order; at least one must match. Every intermediate
 * value must have exactly one reader (the next node of the chain) and not be a graph output. The
 * fused node takes the place (and the output value) of the chain's last node, which comes after all
 * of its inputs. Float dtypes only. Only top-level nodes are fused.
 *
 * The target's capabilities decide which fused ops may be built (`TargetCaps.fusedOps`; a target
 * that does not declare them gets all three).
 */
import type { Dim, Graph, Node, Value } from "../ir/graph.ts";
import { DTYPE_INFO } from "../ir/dtype.ts";
import { Tensor } from "../ir/tensor.ts";
import { elidedSummary } from "../ir/text.ts";
import { pass as eliminateDead } from "./eliminate-dead.ts";
import type { Pass, PassContext } from "./pass.ts";
import { addConstant, definedNames, readCounts, sameShape, tensorParts, topLevelReaders } from "./rewrite.ts";

const FUSED_OF: Readonly<Record<string, "FusedConv" | "FusedMatMul" | "FusedGemm">> = {
  Conv: "FusedConv", MatMul: "FusedMatMul", Gemm: "FusedGemm",
};

/** A readable float constant. */
function floatConst(v: Value | undefined): Tensor | undefined {
  const t = v?.const;
  if (!t || DTYPE_INFO[t.dtype].cls !== "float" || elidedSummary(t)) return undefined;
  return t;
}

/** The one scalar of a readable constant (any rank, one element). */
function scalarOf(v: Value | undefined): number | undefined {
  const t = floatConst(v);
  return t && t.size === 1 ? t.data[0]! : undefined;
}

function dimsOf(v: Value | undefined): readonly Dim[] | undefined {
  const s = tensorParts(v?.type)?.shape;
  return s && s.every((d) => d !== "?") ? s : undefined;
}

/** Whether `b` broadcasts onto `out` without changing it (numpy rules, right-aligned). */
function broadcastsOnto(b: readonly number[], out: readonly Dim[]): boolean {
  if (b.length > out.length) return false;
  const off = out.length - b.length;
  return b.every((d, i) => d === 1 || d === out[off + i]);
}

interface Chain {
  graph: Graph;
  counts: Map<Value, number>;
  /** readers of each value among top-level nodes */
  readers: Map<Value, Node[]>;
  /** nodes already part of a fused chain (removed, or rewritten into the fused node) */
  used: Set<Node>;
}

/** The single node reading `v` (and v read exactly once, not as a graph output), or undefined. */
function soleReader(c: Chain, v: Value): Node | undefined {
  if (c.counts.get(v) !== 1 || c.graph.outputs.includes(v)) return undefined;
  const r = c.readers.get(v);
  return r && r.length === 1 && !c.used.has(r[0]!) ? r[0] : undefined;
}

/** The operand of a binary node that is not `v` (undefined when both are v). */
function other(n: Node, v: Value): Value | undefined {
  if (n.inputs.length !== 2) return undefined;
  const [a, b] = n.inputs;
  if (a === v && b !== v) return b;
  if (b === v && a !== v) return a;
  return undefined;
}

function near(x: number | undefined, want: number): boolean {
  return x !== undefined && Math.abs(x - want) <= 1e-6 * Math.abs(want);
}

interface Act {
  act: string;
  params: number[];
  /** nodes of the activation, the last one producing its output */
  nodes: Node[];
}

/** An activation applied to `v` (v's only reader(s) are the activation's nodes). */
function matchActivation(c: Chain, v: Value): Act | undefined {
  const r = soleReader(c, v);
  if (r) {
    if (r.inputs[0] !== v) return undefined;
    switch (r.op) {
      case "Relu": case "Sigmoid": case "Tanh": case "HardSwish":
        return { act: r.op, params: [], nodes: [r] };
      case "LeakyRelu":
        return { act: "LeakyRelu", params: [typeof r.attrs.alpha === "number" ? r.attrs.alpha : 0.01], nodes: [r] };
      case "Gelu":
        return (r.attrs.approximate ?? "none") === "none" ? { act: "Gelu", params: [], nodes: [r] } : undefined;
      case "Swish":
        return (r.attrs.alpha ?? 1) === 1 ? { act: "SiLU", params: [], nodes: [r] } : undefined;
      case "Clip": {
        const lo = scalarOf(r.inputs[1]);
        const hi = scalarOf(r.inputs[2]);
        if (lo === undefined || hi === undefined || !(lo <= hi)) return undefined;
        return { act: "Clip", params: [lo, hi], nodes: [r] };
      }
      default:
        return undefined;
    }
  }
  // two readers: SiLU (Sigmoid + Mul) or the Erf spelling of Gelu (Div + Mul)
  if (c.counts.get(v) !== 2 || c.graph.outputs.includes(v)) return undefined;
  const rs = c.readers.get(v);
  if (!rs || rs.length !== 2 || rs.some((n) => c.used.has(n))) return undefined;
  const sig = rs.find((n) => n.op === "Sigmoid");
  const div = rs.find((n) => n.op === "Div" && n.inputs[0] === v && near(scalarOf(n.inputs[1]), Math.SQRT2));
  const mul = rs.find((n) => n.op === "Mul");
  if (!mul || mul === sig || mul === div) return undefined;
  if (sig) {
    const s = sig.outputs[0]!;
    if (sig.inputs[0] !== v || other(mul, v) !== s || soleReader(c, s) !== mul) return undefined;
    return { act: "SiLU", params: [], nodes: [sig, mul] };
  }
  if (div) {
    const erf = soleReader(c, div.outputs[0]!);
    if (erf?.op !== "Erf") return undefined;
    const add = soleReader(c, erf.outputs[0]!);
    if (add?.op !== "Add" || scalarOf(other(add, erf.outputs[0]!)) !== 1) return undefined;
    if (other(mul, v) !== add.outputs[0] || soleReader(c, add.outputs[0]!) !== mul) return undefined;
    const half = soleReader(c, mul.outputs[0]!);
    if (half?.op !== "Mul" || scalarOf(other(half, mul.outputs[0]!)) !== 0.5) return undefined;
    return { act: "Gelu", params: [], nodes: [div, erf, add, mul, half] };
  }
  return undefined;
}

/** Fuses the chain after `base` when possible; returns the nodes to remove (empty: no change). */
function fuseFrom(c: Chain, names: Set<string>, base: Node, allowed: (op: string) => boolean): Node[] {
  const fusedOp = FUSED_OF[base.op]!;
  if (!allowed(fusedOp)) return [];
  const y = base.outputs[0]!;
  const tp = tensorParts(y.type);
  const out = dimsOf(y);
  if (!tp || !out || DTYPE_INFO[tp.dtype].cls !== "float") return [];
  const nodes: Node[] = [base];
  let cur = y;
  let bias: Value | undefined;
  let newBias: Tensor | undefined;
  let residual: Value | undefined;
  // 1. bias
  const r1 = soleReader(c, cur);
  if (r1?.op === "Add") {
    const o = other(r1, cur);
    const k = floatConst(o);
    if (o && k && k.dtype === tp.dtype && sameShape(dimsOf(r1.outputs[0]), out)) {
      if (base.op === "Conv" && base.inputs[2] === undefined && out.length >= 3) {
        // a per-channel constant: C values on axis 1 (right-aligned against the output)
        const C = out[1]!;
        const s = k.shape;
        const ax = s.length - (out.length - 1);
        if (typeof C === "number" && k.size === C && ax >= 0 && s.every((d, i) => (i === ax ? d === C : d === 1))) {
          newBias = Tensor.zeros(k.dtype, [C]);
          newBias.data.set(k.data);
        }
      } else if (base.op === "Gemm" && base.inputs[2] === undefined && broadcastsOnto(k.shape, out)) {
        bias = o;
      } else if (base.op === "MatMul" && broadcastsOnto(k.shape, out)) {
        bias = o;
      }
      if (bias || newBias) {
        nodes.push(r1);
        cur = r1.outputs[0]!;
      }
    }
  }
  // 2. residual
  const r2 = soleReader(c, cur);
  if (r2?.op === "Add") {
    const o = other(r2, cur);
    if (o && !o.const && sameShape(dimsOf(o), out) && tensorParts(o.type)?.dtype === tp.dtype && sameShape(dimsOf(r2.outputs[0]), out)) {
      residual = o;
      nodes.push(r2);
      cur = r2.outputs[0]!;
    }
  }
  // 3. activation
  const act = matchActivation(c, cur);
  if (act) nodes.push(...act.nodes);
  if (nodes.length === 1) return [];
  const last = nodes[nodes.length - 1]!;
  for (const d of nodes) c.used.add(d);
  const attrs = { ...base.attrs };
  if (act) attrs.activation = act.act;
  if (act?.params.length) attrs.activation_params = act.params;
  const ins = [base.inputs[0], base.inputs[1], base.inputs[2], residual];
  if (newBias) ins[2] = addConstant(c.graph, names, `${base.name || y.name}.bias`, newBias);
  if (bias) ins[2] = bias;
  if (base.op === "Gemm" && bias) attrs.beta = 1;
  while (ins.length > 2 && ins[ins.length - 1] === undefined) ins.pop();
  last.op = fusedOp;
  last.name = base.name;
  last.inputs = ins;
  last.attrs = attrs;
  return nodes.slice(0, -1);
}

export const pass: Pass = {
  name: "fuse-epilogue",
  run(graph: Graph, ctx: PassContext): boolean {
    const declared = ctx.target?.fusedOps;
    const allowed = (op: string): boolean => declared === undefined || declared.includes(op);
    const counts = readCounts(graph);
    const readers = topLevelReaders(graph);
    const c: Chain = { graph, counts, readers, used: new Set() };
    const names = definedNames(graph);
    const removed = new Set<Node>();
    for (const n of [...graph.nodes]) {
      if (removed.has(n) || !FUSED_OF[n.op]) continue;
      for (const d of fuseFrom(c, names, n, allowed)) removed.add(d);
    }
    if (removed.size === 0) return false;
    graph.nodes = graph.nodes.filter((n) => !removed.has(n));
    eliminateDead.run(graph, ctx);
    return true;
  },
};
