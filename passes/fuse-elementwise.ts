/**
 * fuse-elementwise: turns a tree of elementwise nodes into one FusedElementwise node
 * (ir/ops/fused-elementwise.ts) whose `program` attribute holds the expression, so the target runs
 * one loop over the output instead of one per node and the intermediates never reach memory.
 *
 * A group grows backwards from its last node (the root): an operand computed by another fusable
 * node joins when
 * - that value has exactly one read (by the group's node reading it; read twice, e.g. Mul(t, t),
 *   it would be computed twice) and is not a graph output;
 * - it has the root's shape (known equal, symbolic dims too): an intermediate smaller than the
 *   output, broadcast further on, would be recomputed for every output element, so it stays a node
 *   of its own (e.g. LayerNorm's Sqrt(Add(variance, eps)) on [N,1] before the Div on [N,D]);
 * - its node is a program op (PROGRAM_OPS) whose attributes a program can spell exactly, and all of
 *   its operands and its result have the root's float dtype or are bool (comparisons, logic,
 *   IsNaN, Where's condition). Clip's min and max stay inputs.
 * The root computes a float dtype; with a target, it and the inputs' dtypes must be among the
 * target's (`TargetCaps.dtypes`). The fused node takes
 * the root's place, name and output value (graph outputs keep their names); its inputs are the
 * group's distinct external operands (graph inputs, constants, other nodes' values) in the order
 * the program first reads them. Groups of one node stay as they are, and a group is declined when
 * its inputs do not broadcast exactly to the root's shape (Clip of a scalar with [1]-shaped bounds)
 * or the fused node's own inference does not give the root's type.
 *
 * Nodes are visited last to first, so each group is as large as the rules allow and a node joins
 * at most one group; groups hold at most MAX_GROUP nodes. Only top-level nodes are fused, and
 * FusedElementwise nodes are never regrouped, so a second run changes nothing. A target that
 * declares its fused ops (`TargetCaps.fusedOps`) without FusedElementwise gets no change.
 */
import { type Dim, type Graph, Node, type Value } from "../ir/graph.ts";
import type { DType } from "../ir/dtype.ts";
import { DTYPE_INFO } from "../ir/dtype.ts";
import { inferNode } from "../ir/infer.ts";
import { broadcastDims } from "../ir/ops/support.ts";
import { type Call, type Term, PROGRAM_OPS, printProgram, programAttrOk } from "../ir/ops/fused-elementwise.ts";
import type { Pass, PassContext } from "./pass.ts";
import { readCounts, sameShape, tensorParts } from "./rewrite.ts";

/** Largest group (keeps programs and generated expressions small). */
const MAX_GROUP = 64;

/**
 * Whether `n` may join a group computing float dtype `dt`: "value" when it computes `dt`, "bool"
 * when it computes bool; undefined when it may not.
 */
function fusable(n: Node, dt: DType): "value" | "bool" | undefined {
  const spec = Object.hasOwn(PROGRAM_OPS, n.op) ? PROGRAM_OPS[n.op] : undefined;
  if (!spec || n.outputs.length !== 1) return undefined;
  for (const [k, v] of Object.entries(n.attrs)) if (!programAttrOk(n.op, k, v)) return undefined;
  const out = tensorParts(n.outputs[0]!.type);
  if (!out || out.dtype !== (spec.result === "bool" ? "bool" : dt)) return undefined;
  const ins = n.inputs.filter((v): v is Value => v !== undefined);
  if (ins.length === 0) return undefined;
  for (const v of ins) {
    const t = tensorParts(v.type);
    if (!t || (t.dtype !== dt && t.dtype !== "bool")) return undefined;
  }
  return spec.result;
}

function staticOrSymbolic(s: readonly Dim[] | undefined): s is readonly Dim[] {
  return s !== undefined && s.every((d) => d !== "?");
}

interface Group {
  /** Member nodes (root first). */
  members: Set<Node>;
  root: Node;
}

/** The largest group ending at `root`, or undefined when root is not a fusable float node. */
function growGroup(root: Node, counts: Map<Value, number>, graph: Graph, top: Set<Node>, used: Set<Node>): Group | undefined {
  const y = tensorParts(root.outputs[0]?.type);
  if (!y || DTYPE_INFO[y.dtype].cls !== "float" || fusable(root, y.dtype) !== "value") return undefined;
  const shape = y.shape;
  if (!staticOrSymbolic(shape)) return undefined;
  const members = new Set<Node>([root]);
  const queue = [root];
  while (queue.length && members.size < MAX_GROUP) {
    const n = queue.shift()!;
    const bounds = PROGRAM_OPS[n.op]!.bounds ?? [];
    n.inputs.forEach((v, i) => {
      if (!v || bounds.includes(i) || members.size >= MAX_GROUP) return;
      const p = v.producer;
      if (!p || !top.has(p) || used.has(p) || members.has(p)) return;
      if (counts.get(v) !== 1 || graph.outputs.includes(v)) return;
      if (!sameShape(tensorParts(v.type)?.shape, shape)) return;
      if (!fusable(p, y.dtype)) return;
      members.add(p);
      queue.push(p);
    });
  }
  return members.size >= 2 ? { members, root } : undefined;
}

/** The program of a group and its external inputs (first-read order). */
function programOf(g: Group): { program: Call; inputs: Value[] } {
  const inputs: Value[] = [];
  const index = new Map<Value, number>();
  const termOf = (n: Node): Call => {
    const args: Term[] = n.inputs.map((v): Term => {
      if (!v) return { kind: "omitted" };
      const p = v.producer;
      if (p && g.members.has(p)) return termOf(p);
      let k = index.get(v);
      if (k === undefined) {
        k = inputs.length;
        index.set(v, k);
        inputs.push(v);
      }
      return { kind: "input", index: k };
    });
    // omitted trailing operands are simply absent
    while (args.length && args[args.length - 1]!.kind === "omitted") args.pop();
    const attrs: Record<string, number | string> = {};
    for (const k of Object.keys(n.attrs).sort()) attrs[k] = n.attrs[k] as number | string;
    return { kind: "call", op: n.op, attrs, args };
  };
  return { program: termOf(g.root), inputs };
}

/** Whether the fused node's own inference gives the root's type (a last check of the program). */
function infersAs(probe: Node, y: { dtype: DType; shape: readonly Dim[] | undefined }): boolean {
  let t;
  try {
    t = tensorParts(inferNode(probe)[0]);
  } catch {
    return false;
  }
  return t !== undefined && t.dtype === y.dtype && sameShape(t.shape, y.shape);
}

export const pass: Pass = {
  name: "fuse-elementwise",
  run(graph: Graph, ctx: PassContext): boolean {
    const declared = ctx.target?.fusedOps;
    if (declared !== undefined && !declared.includes("FusedElementwise")) return false;
    const dtypes = ctx.target?.dtypes;
    const counts = readCounts(graph);
    const top = new Set(graph.nodes);
    const used = new Set<Node>();
    const removed = new Set<Node>();
    for (let i = graph.nodes.length - 1; i >= 0; i--) {
      const root = graph.nodes[i]!;
      if (used.has(root)) continue;
      const g = growGroup(root, counts, graph, top, used);
      if (!g) continue;
      const y = tensorParts(root.outputs[0]!.type)!;
      const { program, inputs } = programOf(g);
      if (dtypes && ![y.dtype, ...inputs.map((v) => tensorParts(v.type)!.dtype)].every((d) => dtypes.includes(d))) continue;
      // the fused op's shape is the broadcast of its inputs: it must be the root's
      const shapes = inputs.map((v) => tensorParts(v.type)?.shape);
      if (shapes.some((s) => !staticOrSymbolic(s)) || !sameShape(broadcastDims(...shapes), y.shape)) continue;
      const text = printProgram(program);
      if (!infersAs(new Node("FusedElementwise", root.name, inputs, [], { program: text }), y)) continue;
      for (const m of g.members) {
        used.add(m);
        if (m !== root) removed.add(m);
      }
      root.op = "FusedElementwise";
      root.inputs = inputs;
      root.attrs = { program: text };
    }
    if (removed.size === 0) return false;
    graph.nodes = graph.nodes.filter((n) => !removed.has(n));
    return true;
  },
};
