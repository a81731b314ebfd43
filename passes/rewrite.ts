/**
 * Small tools the rewriting passes share: who reads a value, replacing every use of a value by
 * another, and adding constants under fresh names. Every function here is deterministic (it walks
 * nodes in graph order) so the passes built on it are too.
 */
import { type Dim, Graph, type Node, Value, type ValueType, walkNodes } from "../ir/graph.ts";
import type { DType } from "../ir/dtype.ts";
import { Tensor } from "../ir/tensor.ts";

/** Nested graphs held by a node's attributes. */
export function subgraphsOf(n: Node): Graph[] {
  const out: Graph[] = [];
  for (const a of Object.values(n.attrs)) {
    if (a instanceof Graph) out.push(a);
    else if (Array.isArray(a)) for (const x of a) if (x instanceof Graph) out.push(x);
  }
  return out;
}

/** How many times each value is read: by top-level nodes, nested nodes, and (nested) graph outputs. */
export function readCounts(graph: Graph): Map<Value, number> {
  const counts = new Map<Value, number>();
  const bump = (v: Value | undefined): void => {
    if (v) counts.set(v, (counts.get(v) ?? 0) + 1);
  };
  for (const n of walkNodes(graph)) n.inputs.forEach(bump);
  graph.outputs.forEach(bump);
  for (const n of walkNodes(graph)) for (const g of subgraphsOf(n)) g.outputs.forEach(bump);
  return counts;
}

/** The top-level nodes reading each value (a node reading a value twice is listed once), in graph order. */
export function topLevelReaders(graph: Graph): Map<Value, Node[]> {
  const readers = new Map<Value, Node[]>();
  for (const n of graph.nodes) {
    for (const v of new Set(n.inputs)) {
      if (!v) continue;
      const list = readers.get(v);
      if (list) list.push(n);
      else readers.set(v, [n]);
    }
  }
  return readers;
}

/** Every value name defined anywhere in the graph (inputs, constants, node outputs, nested graphs). */
export function definedNames(graph: Graph): Set<string> {
  const names = new Set<string>();
  const visit = (g: Graph): void => {
    for (const v of [...g.inputs, ...g.constants]) names.add(v.name);
    for (const n of g.nodes) {
      for (const o of n.outputs) names.add(o.name);
      subgraphsOf(n).forEach(visit);
    }
  };
  visit(graph);
  return names;
}

/** A name not in `names` (`base`, else `base_1`, `base_2`, …); it is added to `names`. */
export function freshName(names: Set<string>, base: string): string {
  let name = base;
  for (let k = 1; names.has(name); k++) name = `${base}_${k}`;
  names.add(name);
  return name;
}

/**
 * Replaces every read of `from` by `to`, in nested graphs too. A value the graph returns keeps its
 * name (callers see outputs by name): `to` then takes `from`'s name, which is only possible when
 * `to` is computed by a node and is not itself an input or output. Returns whether anything was
 * replaced (false, changing nothing, when `from` has no readers or the swap is not possible).
 */
export function replaceValue(graph: Graph, from: Value, to: Value, names: Set<string>): boolean {
  if (!canReplace(graph, from, to)) return false;
  let replaced = false;
  if (graph.outputs.includes(from)) {
    const name = from.name;
    from.name = freshName(names, `${name}.replaced`);
    to.name = name;
    graph.outputs = graph.outputs.map((v) => (v === from ? to : v));
    replaced = true;
  }
  for (const n of walkNodes(graph)) {
    for (let i = 0; i < n.inputs.length; i++) {
      if (n.inputs[i] === from) {
        n.inputs[i] = to;
        replaced = true;
      }
    }
    for (const g of subgraphsOf(n)) {
      if (g.outputs.includes(from)) {
        g.outputs = g.outputs.map((v) => (v === from ? to : v));
        replaced = true;
      }
    }
  }
  return replaced;
}

/** Whether replaceValue(graph, from, to) is possible. */
export function canReplace(graph: Graph, from: Value, to: Value): boolean {
  if (from === to) return false;
  if (!graph.outputs.includes(from)) return true;
  return to.producer !== undefined && to.const === undefined && !graph.outputs.includes(to) && !graph.inputs.includes(to);
}

/** Adds a constant holding `t` under a fresh name derived from `base`; returns its value. */
export function addConstant(graph: Graph, names: Set<string>, base: string, t: Tensor): Value {
  const v = new Value(freshName(names, base), { kind: "tensor", dtype: t.dtype, shape: [...t.shape] }, t);
  graph.constants.push(v);
  return v;
}

/** A rank-1 i64 constant (shapes, axes). */
export function addInts(graph: Graph, names: Set<string>, base: string, xs: readonly number[]): Value {
  return addConstant(graph, names, base, Tensor.of("i64", xs));
}

/** The tensor parts of a type, or undefined for sequences, optionals and maps. */
export function tensorParts(t: ValueType | undefined): { dtype: DType; shape: readonly Dim[] | undefined } | undefined {
  return t && t.kind === "tensor" ? { dtype: t.dtype, shape: t.shape } : undefined;
}

/** Whether two (possibly symbolic) shapes are known to be equal. Unknown ("?") dims never match. */
export function sameShape(a: readonly Dim[] | undefined, b: readonly Dim[] | undefined): boolean {
  return a !== undefined && b !== undefined && a.length === b.length && a.every((d, i) => d !== "?" && d === b[i]);
}

/** The integer values of a constant input, when it is one. */
export function constInts(v: Value | undefined): number[] | undefined {
  const t = v?.const;
  if (!t || t.dtype === "string" || t.rank > 1) return undefined;
  return Array.from(t.data, Number);
}

/** A floating dtype whose values are IEEE-style with a representable reciprocal of powers of 2. */
export const IEEE_FLOATS: ReadonlySet<DType> = new Set<DType>(["f16", "bf16", "f32", "f64"]);
