/**
 * Running node tests on the C target: specialize the model to the test's input shapes (binding
 * integer inputs as constants when they decide shapes), compile, build the harness with the host C
 * compiler, run it on the inputs, read the outputs back.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import type { Model } from "../ir/graph.ts";
import type { RValue } from "../ir/op-types.ts";
import { Tensor } from "../ir/tensor.ts";
import { staticShape } from "../ir/ops/support.ts";
import { bindDims, bindInputs } from "../passes/bind.ts";
import { optimize } from "../passes/pipeline.ts";
import { DEFAULT_PASS_CONTEXT } from "../passes/pass.ts";
import { lower, renderProgram, type Program } from "../codegen/lower.ts";
import { harness } from "../codegen/harness.ts";
import { C_TARGET, compileC } from "../targets/c.ts";
import { CompileError } from "../codegen/kernel.ts";

const RUNTIME = join(import.meta.dirname, "..", "runtime", "c");

/** Fixes symbolic input dims to the given tensors' shapes. */
function dimsFromInputs(model: Model, inputs: readonly (RValue | undefined)[]): Record<string, number> {
  const dims: Record<string, number> = {};
  model.graph.inputs.forEach((v, i) => {
    const x = inputs[i];
    if (v.type.kind !== "tensor" || !v.type.shape || !(x instanceof Tensor)) return;
    v.type.shape.forEach((d, k) => {
      if (typeof d === "string" && x.shape[k] !== undefined) dims[d] = x.shape[k]!;
    });
    // an input whose declared shape is unknown takes the test's shape
    if (v.type.shape.length !== x.rank) v.type = { ...v.type, shape: [...x.shape] };
  });
  return dims;
}

function allStatic(model: Model): boolean {
  const g = model.graph;
  return [...g.inputs, ...g.nodes.flatMap((n) => n.outputs)].every((v) => staticShape(v.type) !== undefined);
}

export interface RunOnCOptions {
  /** C compiler flags (default: -O1, portable code; e.g. ["-O2", "-march=native"] exercises the SIMD paths). */
  readonly cflags?: readonly string[];
}

export function runOnC(model: Model, inputs: readonly (RValue | undefined)[], opts: RunOnCOptions = {}): (RValue | undefined)[] {
  const g = model.graph;
  const byName = new Map(g.inputs.map((v, i) => [v.name, inputs[i]]));
  const ctx = { ...DEFAULT_PASS_CONTEXT, target: C_TARGET.caps };
  bindDims(g, dimsFromInputs(model, inputs));
  optimize(g, "O2", ctx);
  if (!allStatic(model)) {
    // shapes depend on input values (e.g. a Reshape's target shape is an input): bind the integer inputs
    const bind = new Map<string, Tensor>();
    for (const [name, x] of byName) if (x instanceof Tensor && (x.dtype === "i64" || x.dtype === "i32")) bind.set(name, x);
    bindInputs(g, bind);
    optimize(g, "O2", ctx);
  }
  const renderer = C_TARGET.renderer();
  const program: Program = lower(g, renderer);
  const dir = mkdtempSync(join(tmpdir(), "infc-conf-"));
  try {
    writeFileSync(join(dir, "model.c"), renderProgram(program, renderer, "conformance"));
    const h = harness(program, { splitTasks: true });
    writeFileSync(join(dir, "main.c"), h.main);
    writeFileSync(join(dir, "weights.bin"), h.weights);
    copyFileSync(join(RUNTIME, "infc_kernel.h"), join(dir, "infc_kernel.h"));
    compileC(["model.c", "main.c"], "run", [...(opts.cflags ?? ["-O1"]), "-fno-math-errno", "-std=c99", "-w"], dir);
    const args = [join(dir, "weights.bin")];
    g.inputs.forEach((v, i) => {
      const x = byName.get(v.name);
      if (!(x instanceof Tensor)) throw new CompileError(`input '${v.name}' is not a tensor: only tensors are supported on target c`);
      const f = join(dir, `in${i}.bin`);
      writeFileSync(f, x.raw());
      args.push(f);
    });
    program.outputs.forEach((_, i) => args.push(join(dir, `out${i}.bin`)));
    execFileSync(join(dir, "run"), args, { stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
    return program.outputs.map((id, i) => {
      const b = program.buffers[id]!;
      const bytes = readFileSync(join(dir, `out${i}.bin`));
      return Tensor.fromRaw(b.dtype, b.shape, new Uint8Array(bytes).slice());
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
