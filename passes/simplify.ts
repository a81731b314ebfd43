/**
 * simplify: local rewrites that remove work or put a node in the canonical form later passes
 * expect. Each rule looks at one node (and at most a short chain of its producers) and either
 *
 * - bypasses it, sending its readers to one of its inputs (no-op Identity, Dropout in inference,
 *   Cast to the same dtype, Transpose by the identity, Reshape/Flatten/Squeeze/Unsqueeze/Expand to
 *   the shape it already has, Squeeze∘Unsqueeze over the same axes, Mul by ones, Add of negative
 *   zeros — or of zeros for integers — when the constant does not broadcast the other operand);
 * - turns it into a constant (Shape/Size of a value whose dims are known), which lets
 *   fold-constants finish the Shape → Gather → … → Concat → Reshape chains exporters emit;
 * - or rewrites it in place (Transpose∘Transpose → one Transpose; a Transpose that moves only
 *   size-1 dims → Reshape; a chain of reshapes → one Reshape; CastLike → Cast; Sub of a constant →
 *   Add of its negation; Div by a constant whose reciprocal is exact → Mul by that reciprocal),
 *   or with the nodes next to it (simplify-linalg.ts: Gemm with a constant B → MatMul + Add of the
 *   bias, alpha/beta/transB folded into the constants when exact; a reshape after a MatMul by a
 *   rank-2 weight that keeps the last dim moves to the MatMul's input, so the product's epilogue
 *   sees it in its readers' shape).
 *
 * Every rewrite is exact: outputs are bit-identical, except that Gemm → MatMul + Add rounds the
 * product before adding C, where the reference Gemm rounds once (see simplify-linalg.ts). Sub → Add
 * and Div → Mul leave fewer op kinds for the elementwise and epilogue fusers to match. Rules run
 * over the nodes in order, repeatedly, until none fires; nodes left without readers are then
 * removed. Like a canonicalizer, simplify also folds constants and refines shapes between rounds
 * (running fold-constants and infer-shapes), because each enables the others: a Shape becomes a
 * constant, the shape arithmetic behind it folds, the Reshape it feeds gets a static type, which
 * makes the next Shape static. One run thus reaches a fixpoint, which keeps every pipeline that
 * ends with it idempotent.
 */
import type { Graph, Node, Value } from "../ir/graph.ts";
import { DTYPE_INFO } from "../ir/dtype.ts";
import { Tensor } from "../ir/tensor.ts";
import { staticShape } from "../ir/ops/support.ts";
import { pass as eliminateDead } from "./eliminate-dead.ts";
import { pass as foldConstants } from "./fold-constants.ts";
import { pass as inferShapes } from "./infer-shapes.ts";
import type { Pass, PassContext } from "./pass.ts";
import { IEEE_FLOATS, addConstant, addInts, constInts, definedNames, sameShape, tensorParts } from "./rewrite.ts";
import { type Rewriter, type Rule, bypass, firstOf, isPowerOfTwo, mapExact, readableConst, shapeOf, toConstant } from "./simplify-common.ts";
import { gemmToMatMul, reshapeBeforeMatMul } from "./simplify-linalg.ts";

// ---------------------------------------------------------------------------------------------
// Identity-like ops

const identity: Rule = (n, rw) => bypass(rw, n, n.inputs[0]);

const dropout: Rule = (n, rw) => {
  const training = n.inputs[2];
  if (training !== undefined) {
    const t = training.const;
    if (!t || t.size !== 1 || t.data[0] !== 0) return false;
  }
  return bypass(rw, n, n.inputs[0]);
};

const cast: Rule = (n, rw) => {
  const x = tensorParts(n.inputs[0]?.type);
  return x !== undefined && x.dtype === n.attrs.to && bypass(rw, n, n.inputs[0]);
};

const castLike: Rule = (n) => {
  const target = tensorParts(n.inputs[1]?.type);
  if (!target) return false;
  const attrs: Node["attrs"] = { to: target.dtype };
  for (const k of ["saturate", "round_mode"]) if (n.attrs[k] !== undefined) attrs[k] = n.attrs[k]!;
  n.op = "Cast";
  n.inputs = [n.inputs[0]];
  n.attrs = attrs;
  return true;
};

const expand: Rule = (n, rw) => {
  const x = shapeOf(n.inputs[0]);
  const shape = constInts(n.inputs[1]);
  // expanding to all-ones of at most x's rank never changes x
  const ones = x !== undefined && shape !== undefined && shape.length <= x.length && shape.every((d) => d === 1);
  return (ones || sameShape(x, shapeOf(n.outputs[0]))) && bypass(rw, n, n.inputs[0]);
};

// ---------------------------------------------------------------------------------------------
// Shape queries

const shapeQuery: Rule = (n, rw) => {
  const s = shapeOf(n.inputs[0]);
  if (!s) return false;
  const rank = s.length;
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clamp(typeof n.attrs.start === "number" ? n.attrs.start : 0);
  const end = typeof n.attrs.end === "number" ? clamp(n.attrs.end) : rank;
  const dims = s.slice(start, Math.max(start, end));
  if (!dims.every((d): d is number => typeof d === "number")) return false;
  return toConstant(rw, n, Tensor.of("i64", dims));
};

const sizeQuery: Rule = (n, rw) => {
  const s = staticShape(n.inputs[0]?.type);
  return s !== undefined && toConstant(rw, n, Tensor.of("i64", [s.reduce((a, b) => a * b, 1)], []));
};

// ---------------------------------------------------------------------------------------------
// Layout ops

/** A Transpose's permutation (normalized), or undefined when its rank is unknown. */
function permOf(n: Node): number[] | undefined {
  const p = n.attrs.perm;
  if (Array.isArray(p)) {
    const rank = p.length;
    return (p as readonly number[]).map((a) => (a < 0 ? a + rank : a));
  }
  const s = shapeOf(n.inputs[0]);
  return s ? s.map((_, i) => s.length - 1 - i) : undefined;
}

const transpose: Rule = (n, rw) => {
  const perm = permOf(n);
  if (!perm) return false;
  if (perm.every((p, i) => p === i)) return bypass(rw, n, n.inputs[0]);
  const inner = n.inputs[0]?.producer;
  if (inner?.op === "Transpose") {
    const p1 = permOf(inner);
    if (p1 && p1.length === perm.length) {
      // out[i] = mid[perm[i]] and mid[j] = x[p1[j]], so out[i] = x[p1[perm[i]]]
      n.inputs = [inner.inputs[0]];
      n.attrs = { ...n.attrs, perm: perm.map((p) => p1[p]!) };
      return true;
    }
  }
  // moving only size-1 dims keeps the element order: it is a reshape
  const x = shapeOf(n.inputs[0]);
  const out = staticShape(n.outputs[0]?.type);
  if (!x || !out) return false;
  const moved = perm.filter((p) => x[p] !== 1);
  if (!moved.every((p, i) => i === 0 || moved[i - 1]! < p)) return false;
  toReshape(rw, n, n.inputs[0], out);
  return true;
};

/** Ops that only reinterpret the shape of their first input. */
const RESHAPES: ReadonlySet<string> = new Set(["Reshape", "Flatten", "Squeeze", "Unsqueeze"]);

/** Makes `n` a Reshape of `x` to the static shape `out`. */
function toReshape(rw: Rewriter, n: Node, x: Value | undefined, out: readonly number[]): void {
  const spec = addInts(rw.graph, rw.names, `${n.outputs[0]!.name}.shape`, out);
  n.op = "Reshape";
  n.inputs = [x, spec];
  // a 0 in the target means "copy the input dim" unless allowzero is set
  n.attrs = out.includes(0) ? { allowzero: 1 } : {};
}

/** Squeeze/Unsqueeze axes normalized against `rank`, sorted; undefined when unknown. */
function axesOf(n: Node, rank: number | undefined): number[] | undefined {
  const axes = constInts(n.inputs[1]);
  if (!axes || (rank === undefined && axes.some((a) => a < 0))) return undefined;
  return axes.map((a) => (a < 0 ? a + rank! : a)).sort((a, b) => a - b);
}

const reshapeLike: Rule = (n, rw) => {
  const x = n.inputs[0];
  const out = n.outputs[0];
  if (sameShape(shapeOf(x), shapeOf(out))) return bypass(rw, n, x);
  const inner = x?.producer;
  if (!inner || !RESHAPES.has(inner.op)) return false;
  // Squeeze∘Unsqueeze and Unsqueeze∘Squeeze over the same axes give back the input
  if ((n.op === "Squeeze" && inner.op === "Unsqueeze") || (n.op === "Unsqueeze" && inner.op === "Squeeze")) {
    const rank = (n.op === "Squeeze" ? shapeOf(x) : shapeOf(out))?.length;
    const a = axesOf(n, rank);
    const b = axesOf(inner, rank);
    if (a && b && a.join() === b.join()) return bypass(rw, n, inner.inputs[0]);
  }
  // a reshape of a reshape reads the first one's input directly
  const spec = n.op === "Reshape" ? constInts(n.inputs[1]) : undefined;
  if (spec && (n.attrs.allowzero === 1 || !spec.includes(0))) {
    n.inputs = [inner.inputs[0], n.inputs[1]];
    return true;
  }
  const s = staticShape(out?.type);
  if (!s) return false;
  toReshape(rw, n, inner.inputs[0], s);
  return true;
};

// ---------------------------------------------------------------------------------------------
// Arithmetic with constants

/** The constant second operand of a float Sub/Div (the first must be a tensor of the same dtype). */
function floatConstOperand(n: Node): Tensor | undefined {
  const c = readableConst(n.inputs[1]);
  const x = tensorParts(n.inputs[0]?.type);
  if (!c || !x || x.dtype !== c.dtype || !IEEE_FLOATS.has(c.dtype)) return undefined;
  return c;
}

const subConst: Rule = (n, rw) => {
  const c = floatConstOperand(n);
  const neg = c && mapExact(c, (v) => -v);
  if (!neg) return false;
  n.op = "Add";
  n.inputs = [n.inputs[0], addConstant(rw.graph, rw.names, `${n.inputs[1]!.name}.neg`, neg)];
  return true;
};

const divConst: Rule = (n, rw) => {
  const c = floatConstOperand(n);
  // x / c == x * (1/c) for every x exactly when 1/c is representable (c a power of two)
  const recip = c && mapExact(c, (v) => (isPowerOfTwo(Math.abs(v)) && Number.isFinite(1 / v) ? 1 / v : undefined));
  if (!recip) return false;
  n.op = "Mul";
  n.inputs = [n.inputs[0], addConstant(rw.graph, rw.names, `${n.inputs[1]!.name}.recip`, recip)];
  return true;
};

/**
 * x·1 and x + (−0) are x for every float x (x + (+0) is not: −0 + 0 = +0), and x·1, x + 0 for every
 * integer: a Mul/Add whose constant operand holds only such neutral elements, and whose output has
 * the other operand's shape (the constant does not broadcast it), is bypassed.
 */
function neutralOperand(isNeutral: (v: number, float: boolean) => boolean): Rule {
  return (n, rw) => {
    for (const i of [0, 1]) {
      const x = n.inputs[i];
      const k = readableConst(n.inputs[1 - i]);
      const tx = tensorParts(x?.type);
      if (!x || !k || !tx || tx.dtype !== k.dtype || !sameShape(tx.shape, shapeOf(n.outputs[0]))) continue;
      const cls = DTYPE_INFO[k.dtype].cls;
      if (cls !== "float" && cls !== "int" && cls !== "uint") continue;
      if (k.data.every((v: number) => isNeutral(v, cls === "float"))) return bypass(rw, n, x);
    }
    return false;
  };
}

const mulOne = neutralOperand((v) => v === 1);
const addZero = neutralOperand((v, float) => (float ? Object.is(v, -0) : v === 0));

const RULES: Readonly<Partial<Record<string, Rule>>> = {
  Identity: identity,
  Dropout: dropout,
  Cast: cast,
  CastLike: castLike,
  Expand: expand,
  Shape: shapeQuery,
  Size: sizeQuery,
  Transpose: transpose,
  Reshape: firstOf(reshapeLike, reshapeBeforeMatMul),
  Flatten: firstOf(reshapeLike, reshapeBeforeMatMul),
  Squeeze: firstOf(reshapeLike, reshapeBeforeMatMul),
  Unsqueeze: firstOf(reshapeLike, reshapeBeforeMatMul),
  Sub: subConst,
  Div: divConst,
  Mul: mulOne,
  Add: addZero,
  Gemm: gemmToMatMul,
};

/** More rounds than any chain of rewrites we have seen needs; a guard against ping-pong. */
const MAX_ROUNDS = 64;

/** One sweep of the rules over the nodes; returns whether any fired. */
function sweep(rw: Rewriter): boolean {
  let fired = false;
  // rules may insert nodes next to the one they rewrite: those wait for the next sweep
  for (const n of [...rw.graph.nodes]) {
    const rule = RULES[n.op];
    if (rule && !rw.removed.has(n) && rule(n, rw)) fired = true;
  }
  if (rw.removed.size) rw.graph.nodes = rw.graph.nodes.filter((n) => !rw.removed.has(n));
  rw.removed.clear();
  return fired;
}

export const pass: Pass = {
  name: "simplify",
  run(graph: Graph, ctx: PassContext): boolean {
    const rw: Rewriter = { graph, ctx, names: definedNames(graph), removed: new Set(), derived: new Map() };
    let changed = false;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      // infer-shapes first: its facts are what the rules and the folder look at
      const inferred = inferShapes.run(graph, ctx);
      const folded = foldConstants.run(graph, ctx);
      const fired = sweep(rw);
      if (!inferred && !folded && !fired) break;
      changed = true;
      if (fired || folded) eliminateDead.run(graph, ctx); // so bypassed nodes do not fire again
    }
    return changed;
  },
};
