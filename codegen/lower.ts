/**
 * Lowering: an optimized graph with static shapes → a Program of buffers, kernel functions and
 * steps (which kernel runs on which buffers, with how many tasks).
 *
 * Every problem that stops compilation (an op without a kernel, a dynamic shape, a dtype the target
 * lacks) is collected and reported together. View ops (Reshape, Squeeze, ...) become aliases of
 * their input's bytes, except where the result is a graph output, which the caller owns: those get a
 * copy kernel.
 *
 * Prepare kernels (KernelSpec.prepare) whose inputs are all constants are hoisted: they become
 * prepare steps, placed before every other step and run once per loaded model, and the scratch
 * they write becomes prepared storage, kept for the model's life. Prepared bytes are capped at the
 * plan format's limit (PREPARED_FACTOR × the weights + PREPARED_SLACK); past it kernels stay steps.
 */
import type { DType } from "../ir/dtype.ts";
import { storageBytes } from "../ir/dtype.ts";
import { type Graph, type Value, formatType } from "../ir/graph.ts";
import { OP_INFO } from "../ir/ops.ts";
import { type AttrSpec, attrReader } from "../ir/op-types.ts";
import type { Tensor } from "../ir/tensor.ts";
import { staticShape } from "../ir/ops/support.ts";
import type { CStyleRenderer } from "./cstyle.ts";
import { type EmitNode, type KernelArg, type KernelSpec, type Lowered, type TensorInfo, CompileError } from "./kernel.ts";
import { HELPERS, KERNELS } from "./kernels/index.ts";
import { PLAN } from "./plan-format.ts";

export interface Buffer {
  readonly id: number;
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly bytes: number;
  /** prepared: written once per loaded model by prepare steps (constant weights repacked for a kernel). */
  readonly kind: "input" | "output" | "const" | "temp" | "scratch" | "prepared";
  readonly const?: Tensor;
  /** Position among the graph's inputs or outputs. */
  readonly io?: number;
  /** For views: the buffer whose bytes this one reinterprets. */
  base?: Buffer;
}

export interface KernelFn {
  readonly name: string;
  readonly source: string;
}

export interface Step {
  readonly kernel: number;
  readonly args: readonly number[];
  readonly tasks: number;
  /** Source node name and op (for comments, profiles, errors). */
  readonly node: string;
  readonly op: string;
  /** Runs once per loaded model, before the first run (prepare steps come first in `steps`). */
  readonly prepare?: boolean;
}

export interface Program {
  readonly name: string;
  readonly buffers: readonly Buffer[];
  readonly kernels: readonly KernelFn[];
  readonly steps: readonly Step[];
  /** Buffer ids of the graph's inputs and outputs, in order. */
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  /** Helper snippets, dependency-ordered. */
  readonly helpers: readonly string[];
}

/** The storage buffer a buffer's bytes live in (itself unless it is a view). */
export function rootOf(b: Buffer): Buffer {
  let x = b;
  while (x.base) x = x.base;
  return x;
}

export function lower(graph: Graph, r: CStyleRenderer): Program {
  const problems: string[] = [];
  const buffers: Buffer[] = [];
  const byValue = new Map<Value, Buffer>();
  const shapeOf = (v: Value, what: string): number[] | undefined => {
    if (v.type.kind !== "tensor") {
      problems.push(`${what} '${v.name}' is a ${v.type.kind}: only tensors are supported on target ${r.target}`);
      return undefined;
    }
    const s = staticShape(v.type);
    if (!s) problems.push(`${what} '${v.name}' has a dynamic shape ${formatType(v.type)}: the target needs static shapes (bind the input's dims)`);
    try {
      r.storageType(v.type.dtype);
    } catch (e) {
      problems.push(`${what} '${v.name}': ${(e as Error).message}`);
      return undefined;
    }
    return s;
  };
  const add = (v: Value, kind: Buffer["kind"], io?: number): Buffer => {
    const shape = shapeOf(v, kind === "input" ? "input" : kind === "const" ? "constant" : "value") ?? [];
    const dtype = v.type.kind === "tensor" ? v.type.dtype : "f32";
    const size = shape.reduce((a, b) => a * b, 1);
    const b: Buffer = {
      id: buffers.length, name: v.name, dtype, shape, bytes: storageBytes(dtype, size), kind,
      ...(v.const ? { const: v.const } : {}), ...(io !== undefined ? { io } : {}),
    };
    buffers.push(b);
    byValue.set(v, b);
    return b;
  };
  graph.inputs.forEach((v, i) => add(v, "input", i));
  const outputIndex = new Map<Value, number>();
  graph.outputs.forEach((v, i) => {
    if (!outputIndex.has(v)) outputIndex.set(v, i);
  });
  const bufferOf = (v: Value): Buffer => {
    const b = byValue.get(v);
    if (b) return b;
    if (v.const) return add(v, "const");
    throw new CompileError(`value '${v.name}' is read before it is defined`);
  };

  const kernels: KernelFn[] = [];
  const kernelBySource = new Map<string, number>();
  const helperNames = new Set<string>();
  const steps: Step[] = [];
  const prepSteps: Step[] = [];
  // the prepared-bytes budget: the weights are at least the constants the nodes read
  const constBytes = [...new Set(graph.nodes.flatMap((nd) => nd.inputs.filter((v): v is Value => !!v?.const)))]
    .reduce((a, v) => a + (v.type.kind === "tensor" ? storageBytes(v.type.dtype, v.const!.size) : 0), 0);
  let preparedLeft = PLAN.PREPARED_FACTOR * constBytes + PLAN.PREPARED_SLACK;

  const emitKernel = (spec: KernelSpec, label: string, args: readonly { arg: KernelArg; buf: Buffer; output: boolean }[], node: string, op: string, prepare = false): void => {
    const source = r.kernel("KERNEL_NAME", label, spec, args.map((a) => ({ arg: a.arg, dtype: a.buf.dtype, output: a.output })));
    // identical kernels (same code, same shapes) share one function
    let k = kernelBySource.get(source);
    if (k === undefined) {
      k = kernels.length;
      kernelBySource.set(source, k);
      kernels.push({ name: `k${k}`, source: source.replace("KERNEL_NAME", `k${k}`) });
    }
    for (const h of spec.helpers ?? []) helperNames.add(h);
    const step: Step = { kernel: k, args: args.map((a) => a.buf.id), tasks: Math.max(1, spec.tasks), node, op, ...(prepare ? { prepare } : {}) };
    (prepare ? prepSteps : steps).push(step);
  };

  const copy = (src: Buffer, dst: Buffer, node: string): void => {
    const spec: KernelSpec = { tasks: 1, body: `memcpy(y0, x0, ${dst.bytes});` };
    emitKernel(spec, `copy to '${dst.name}'`, [
      { arg: { name: "x0", ref: { kind: "in", index: 0 } }, buf: src, output: false },
      { arg: { name: "y0", ref: { kind: "out", index: 0 } }, buf: dst, output: true },
    ], node, "Copy");
  };

  for (const node of graph.nodes) {
    const emitter = KERNELS[node.op];
    const label = `${node.op} '${node.name}'`;
    if (!emitter) {
      problems.push(`node '${node.name}': op ${node.op} has no kernel on target ${r.target}`);
      for (const o of node.outputs) add(o, "temp");
      continue;
    }
    const ins = node.inputs.map((v) => (v ? bufferOf(v) : undefined));
    const outs = node.outputs.map((o) => (outputIndex.has(o) ? add(o, "output", outputIndex.get(o)) : add(o, "temp")));
    if (problems.length) continue; // keep collecting problems; emit nothing more
    const info = (b: Buffer, v: Value): TensorInfo => ({ name: v.name, dtype: b.dtype, shape: b.shape, size: b.shape.reduce((a, c) => a * c, 1), const: v.const });
    const schema: Readonly<Record<string, AttrSpec>> = OP_INFO[node.op].attrs;
    const en: EmitNode = {
      node,
      attrs: attrReader(node, schema, node.op),
      inputs: node.inputs.map((v, i) => (v ? info(ins[i]!, v) : undefined)),
      outputs: node.outputs.map((o, i) => info(outs[i]!, o)),
      r,
      fail: (msg) => {
        throw new CompileError(`node '${node.name}' (${node.op}): ${msg}`);
      },
    };
    let lowered: Lowered;
    try {
      lowered = emitter(en);
    } catch (e) {
      if (e instanceof CompileError) {
        problems.push(e.message);
        continue;
      }
      throw e;
    }
    if ("alias" in lowered) {
      const src = ins[lowered.alias];
      if (!src) throw new CompileError(`node '${node.name}': alias of a missing input`);
      const out = outs[0]!;
      if (out.kind === "output") copy(src, out, node.name);
      else out.base = src;
      continue;
    }
    const argsOf = (spec: KernelSpec): KernelArg[] => (spec.args ? [...spec.args] : [
      ...ins.flatMap((b, i): KernelArg[] => (b ? [{ name: `x${i}`, ref: { kind: "in", index: i } }] : [])),
      ...outs.map((_, i): KernelArg => ({ name: `y${i}`, ref: { kind: "out", index: i } })),
    ]);
    // hoist prepare kernels that read only constants (and scratch they write only through hoisting)
    const scratchSpecs = lowered.scratch ?? [];
    const prepared = new Set<number>();
    const hoisted = lowered.kernels.map((spec) => {
      if (!spec.prepare) return false;
      const args = argsOf(spec);
      if (!args.every((a) => a.ref.kind === "scratch" || (a.ref.kind === "in" && ins[a.ref.index] && rootOf(ins[a.ref.index]!).kind === "const"))) return false;
      const writes = args.filter((a) => a.ref.kind === "scratch" && !prepared.has(a.ref.index)).map((a) => a.ref.index);
      const bytes = writes.reduce((t, i) => t + Math.ceil(storageBytes(scratchSpecs[i]!.dtype, scratchSpecs[i]!.count) / PLAN.ARENA_ALIGN) * PLAN.ARENA_ALIGN, 0);
      if (bytes > preparedLeft) return false;
      preparedLeft -= bytes;
      for (const i of writes) prepared.add(i);
      return true;
    });
    const scratch = scratchSpecs.map((s, i) => {
      const kind = prepared.has(i) ? "prepared" : "scratch";
      const b: Buffer = { id: buffers.length, name: `${node.name}/${kind}${i}`, dtype: s.dtype, shape: [s.count], bytes: storageBytes(s.dtype, s.count), kind };
      buffers.push(b);
      return b;
    });
    for (const [ki, spec] of lowered.kernels.entries()) {
      const args = argsOf(spec);
      const resolved = args.map((arg) => {
        const ref = arg.ref;
        const buf = ref.kind === "in" ? ins[ref.index] : ref.kind === "out" ? outs[ref.index] : scratch[ref.index];
        if (!buf) throw new CompileError(`node '${node.name}': kernel argument '${arg.name}' refers to a missing ${ref.kind} ${ref.index}`);
        return { arg, buf, output: ref.kind !== "in" };
      });
      emitKernel(spec, spec.label ? `${label}: ${spec.label}` : label, resolved, node.name, node.op, hoisted[ki]);
    }
  }

  const outputs = graph.outputs.map((v, i) => {
    const b = byValue.get(v) ?? (v.const ? add(v, "const") : undefined);
    if (!b) {
      problems.push(`graph output '${v.name}' is not computed`);
      return -1;
    }
    if (b.kind === "output" && b.io === i) return b.id;
    // a graph input, a constant, or a value listed twice: copy it into the caller's buffer
    const dst = add(v, "output", i);
    if (!problems.length) copy(b, dst, `output ${i}`);
    return dst.id;
  });
  if (problems.length) {
    throw new CompileError(`cannot compile for target ${r.target}:\n  ${[...new Set(problems)].join("\n  ")}`);
  }
  return {
    name: graph.name,
    buffers,
    kernels,
    steps: [...prepSteps, ...steps],
    inputs: graph.inputs.map((v) => byValue.get(v)!.id),
    outputs,
    helpers: r.orderHelpers([...helperNames, ...graph.inputs.flatMap((v) => (v.type.kind === "tensor" ? r.convHelpers(v.type.dtype) : []))].filter((h, i, a) => a.indexOf(h) === i), HELPERS),
  };
}

/** The generated kernel source of a program: prelude, helpers, kernels, and the kernel table. */
export function renderProgram(p: Program, r: CStyleRenderer, header: string): string {
  return [
    `/* ${header} */`,
    ...r.prelude,
    '#include "infc_kernel.h"',
    "",
    ...p.helpers.map((h) => `${h}\n`),
    ...p.kernels.map((k) => `${k.source}\n`),
    `const infc_kernel_fn infc_model_kernels[${Math.max(1, p.kernels.length)}] = {${p.kernels.map((k) => k.name).join(", ") || "0"}};`,
    `const uint32_t infc_model_kernel_count = ${p.kernels.length};`,
    "",
  ].join("\n");
}
