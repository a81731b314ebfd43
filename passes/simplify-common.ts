/**
 * What the rules of the simplify pass (simplify.ts, simplify-linalg.ts) share: the rewriter state,
 * the rule signature, and the small edits rules are built from (bypassing a node, turning it into a
 * constant, inserting new nodes next to it, asking who reads a value), plus exactness checks for
 * rewritten constants.
 *
 * New nodes go into the graph at once (before or after an existing node, so the order stays
 * topological), so reader counts are right for the rules that run later in the same sweep.
 */
import type { Graph, Node, Value } from "../ir/graph.ts";
import type { DType } from "../ir/dtype.ts";
import { Tensor } from "../ir/tensor.ts";
import { roundToFloat } from "../ir/float-formats.ts";
import { elidedSummary } from "../ir/text.ts";
import type { PassContext } from "./pass.ts";
import { readCounts, replaceValue, tensorParts } from "./rewrite.ts";

/** The state rules share during one run. */
export interface Rewriter {
  readonly graph: Graph;
  readonly ctx: PassContext;
  readonly names: Set<string>;
  /** Nodes turned into constants this round (removed at the end of the round). */
  readonly removed: Set<Node>;
  /** Constants derived from other constants (transposed, scaled), by source and recipe: shared, not copied twice. */
  readonly derived: Map<Value, Map<string, Value>>;
}

export type Rule = (n: Node, rw: Rewriter) => boolean;

/** The rule that tries each of `rules` in order and stops at the first that fires. */
export function firstOf(...rules: Rule[]): Rule {
  return (n, rw) => rules.some((r) => r(n, rw));
}

/** Sends the readers of output `i` of `n` to `to`. */
export function bypass(rw: Rewriter, n: Node, to: Value | undefined, i = 0): boolean {
  const from = n.outputs[i];
  if (!to || !from) return false;
  const a = tensorParts(from.type);
  const b = tensorParts(to.type);
  if (!a || !b || a.dtype !== b.dtype) return false;
  return replaceValue(rw.graph, from, to, rw.names);
}

/** Turns the single output of `n` into a constant holding `t` (keeping its name). */
export function toConstant(rw: Rewriter, n: Node, t: Tensor): boolean {
  const v = n.outputs[0];
  if (!v || n.outputs.length !== 1) return false;
  v.const = t;
  v.producer = undefined;
  v.type = { kind: "tensor", dtype: t.dtype, shape: [...t.shape] };
  rw.graph.constants.push(v);
  rw.removed.add(n);
  return true;
}

export function shapeOf(v: Value | undefined): readonly (number | string)[] | undefined {
  return tensorParts(v?.type)?.shape;
}

/** Puts `nodes` into the graph just before `anchor`. */
export function insertBefore(rw: Rewriter, anchor: Node, ...nodes: Node[]): void {
  const i = rw.graph.nodes.indexOf(anchor);
  rw.graph.nodes.splice(i < 0 ? rw.graph.nodes.length : i, 0, ...nodes);
}

/** Puts `nodes` into the graph just after `anchor`. */
export function insertAfter(rw: Rewriter, anchor: Node, ...nodes: Node[]): void {
  const i = rw.graph.nodes.indexOf(anchor);
  rw.graph.nodes.splice(i < 0 ? rw.graph.nodes.length : i + 1, 0, ...nodes);
}

/**
 * Whether `v` is read exactly once, by one input of `reader` (a top-level node), and is not a graph
 * output: then rewriting its producer and `reader` together changes no other reader.
 */
export function onlyReader(rw: Rewriter, v: Value | undefined, reader: Node): boolean {
  if (!v || rw.graph.outputs.includes(v)) return false;
  if (reader.inputs.filter((x) => x === v).length !== 1) return false;
  return readCounts(rw.graph).get(v) === 1;
}

/** A constant's tensor when its data can be read (not elided in text IR). */
export function readableConst(v: Value | undefined): Tensor | undefined {
  const t = v?.const;
  return t && !elidedSummary(t) ? t : undefined;
}

/** `f` applied to every element of a float constant, or undefined when some result is inexact. */
export function mapExact(t: Tensor, f: (v: number) => number | undefined): Tensor | undefined {
  const dt: DType = t.dtype;
  const out = Tensor.zeros(dt, t.shape);
  const a = t.data;
  const o = out.data;
  for (let i = 0; i < a.length; i++) {
    const r = f(a[i]!);
    if (r === undefined || roundToFloat(dt, r) !== r) return undefined;
    o[i] = r;
  }
  return out;
}

export function isPowerOfTwo(m: number): boolean {
  if (!(m > 0 && Number.isFinite(m))) return false;
  const k = Math.round(Math.log2(m));
  return 2 ** k === m;
}
