/**
 * The C artifact directory: everything `infc compile --target c` writes.
 *
 *   model.infc       plan + weights (format: runtime/c/infc_plan.h, writer: plan-format.ts)
 *   model.c          generated kernels and their table, plus infc_model_kernels_id
 *   infc*.h/.c       the runtime sources (infc.h, infc_kernel.h, infc_plan.h, infc_runtime.c,
 *                    infc_pool.c, infc_main.c — the runner)
 *   Makefile, CMakeLists.txt   a static library (kernels + runtime) and the runner
 *   manifest.json    inputs, outputs, arena figures, hashes of the source model and every file,
 *                    compiler version, flags
 *
 * Everything is rendered in memory first, deterministically (no timestamps, no absolute paths,
 * sorted JSON keys), then written into a temporary directory beside the destination and renamed
 * into place: an error leaves nothing half-written.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { DType } from "../ir/dtype.ts";
import type { MemoryPlan } from "../passes/plan-memory.ts";
import { commentSafe } from "./cstyle.ts";
import type { CStyleRenderer } from "./cstyle.ts";
import { type Program, renderProgram, rootOf } from "./lower.ts";
import { PLAN, PLAN_TARGETS, type PlanTensor, fnv1a64, planDType, writePlan } from "./plan-format.ts";

export const RUNTIME_DIR = join(import.meta.dirname, "..", "runtime", "c");
export const RUNTIME_FILES = ["infc.h", "infc_kernel.h", "infc_plan.h", "infc_runtime.c", "infc_pool.c", "infc_main.c"] as const;

export class ArtifactError extends Error {
  override name = "ArtifactError";
}

/** The compiler's version (package.json). */
export function compilerVersion(): string {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, "..", "package.json"), "utf8")) as { version?: string };
  return pkg.version ?? "0.0.0";
}

export interface ArtifactOptions {
  /** The source model file (hashed into the manifest; only its base name is recorded). */
  readonly modelPath: string;
  readonly level: string;
  /** -march value the build uses. */
  readonly cpu: string;
  readonly dims: Readonly<Record<string, number>>;
}

export interface IoInfo {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly bytes: number;
}

export interface Artifact {
  /** File name → contents, in write order. */
  readonly files: ReadonlyMap<string, Uint8Array>;
  readonly inputs: readonly IoInfo[];
  readonly outputs: readonly IoInfo[];
  readonly kernels: number;
  readonly steps: number;
  readonly memory: MemoryPlan;
  readonly weightsBytes: number;
  /** Bytes of prepared tensors the runtime allocates at load (repacked constant weights). */
  readonly preparedBytes: number;
}

/** The plan file of a program: tensor table over storage roots, steps over root ids, weights 64-aligned. */
export function planFile(p: Program, memory: MemoryPlan, kernelsId: bigint): { bytes: Uint8Array; weightsBytes: number; preparedBytes: number } {
  const roots = p.buffers.filter((b) => !b.base);
  const newId = new Map(roots.map((b, i) => [b.id, i]));
  const chunks: [number, Uint8Array][] = [];
  let wsize = 0;
  let psize = 0;
  const tensors: PlanTensor[] = roots.map((b) => {
    let offset = 0;
    let kind: PlanTensor["kind"];
    if (b.kind === "input") kind = "INPUT";
    else if (b.kind === "output") kind = "OUTPUT";
    else if (b.kind === "const") {
      kind = "CONST";
      if (!b.const) throw new ArtifactError(`constant '${b.name}' has no value`);
      const raw = b.const.raw();
      if (raw.byteLength !== b.bytes) throw new ArtifactError(`constant '${b.name}': ${raw.byteLength} bytes of data, expected ${b.bytes}`);
      offset = Math.ceil(wsize / PLAN.WEIGHTS_ALIGN) * PLAN.WEIGHTS_ALIGN;
      chunks.push([offset, raw]);
      wsize = offset + raw.byteLength;
    } else if (b.kind === "prepared") {
      kind = "PREPARED";
      offset = psize;
      psize += Math.ceil(b.bytes / PLAN.ARENA_ALIGN) * PLAN.ARENA_ALIGN;
    } else {
      kind = "ARENA";
      const o = memory.offsets.get(b.id);
      if (o === undefined) throw new ArtifactError(`buffer '${b.name}' has no arena offset`);
      offset = o;
    }
    return { name: b.name, kind, dtype: planDType(b.dtype), shape: b.shape, bytes: b.bytes, offset };
  });
  const weights = new Uint8Array(wsize);
  for (const [o, c] of chunks) weights.set(c, o);
  const id = (bufId: number): number => newId.get(rootOf(p.buffers[bufId]!).id)!;
  const bytes = writePlan({
    target: PLAN_TARGETS.C,
    arenaBytes: memory.arenaBytes,
    preparedBytes: psize,
    kernelCount: p.kernels.length,
    kernelsId,
    tensors,
    steps: p.steps.map((s) => ({ kernel: s.kernel, tasks: s.tasks, args: s.args.map(id), ...(s.prepare ? { prepare: true } : {}) })),
    inputs: p.inputs.map(id),
    outputs: p.outputs.map(id),
    weights,
  });
  return { bytes, weightsBytes: wsize, preparedBytes: psize };
}

/** JSON with object keys sorted at every level (stable bytes). */
export function stableJson(v: unknown): string {
  const sort = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(sort);
    if (x && typeof x === "object") {
      return Object.fromEntries(Object.keys(x).sort().map((k) => [k, sort((x as Record<string, unknown>)[k])]));
    }
    return x;
  };
  return JSON.stringify(sort(v), null, 1) + "\n";
}

const sha256 = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** sha256 of a file, read in chunks (source models may be larger than one buffer should be). */
export function sha256File(path: string): { sha256: string; bytes: number } {
  const h = createHash("sha256");
  const fd = openSync(path, "r");
  const buf = new Uint8Array(1 << 20);
  let total = 0;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      h.update(buf.subarray(0, n));
      total += n;
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: h.digest("hex"), bytes: total };
}

function makefile(cpu: string, version: string): string {
  return `# Generated by infc ${version}. Builds libinfc_model.a (kernels + runtime, to embed in an app:
# include infc.h, link the library with -lm -lpthread) and model_run, the runner.
CPU ?= ${cpu}
CFLAGS ?= -O3 -march=$(CPU) -fno-math-errno
ALL_CFLAGS = -std=c99 $(CFLAGS)
LDLIBS = -lm -lpthread
OBJS = model.o infc_runtime.o infc_pool.o

all: libinfc_model.a model_run

libinfc_model.a: $(OBJS)
\t$(AR) rcs $@ $(OBJS)

model_run: infc_main.o libinfc_model.a
\t$(CC) $(ALL_CFLAGS) -o $@ infc_main.o libinfc_model.a $(LDLIBS)

%.o: %.c infc.h infc_kernel.h infc_plan.h
\t$(CC) $(ALL_CFLAGS) -c $< -o $@

clean:
\trm -f $(OBJS) infc_main.o libinfc_model.a model_run

.PHONY: all clean
`;
}

function cmakeLists(cpu: string, version: string): string {
  return `# Generated by infc ${version}: the static library infc_model (kernels + runtime) and the runner.
cmake_minimum_required(VERSION 3.10)
project(infc_model C)
set(INFC_CPU "${cpu}" CACHE STRING "-march value for the kernels")
find_package(Threads REQUIRED)
add_library(infc_model STATIC model.c infc_runtime.c infc_pool.c)
set_property(TARGET infc_model PROPERTY C_STANDARD 99)
target_compile_options(infc_model PRIVATE -O3 -march=\${INFC_CPU} -fno-math-errno)
target_include_directories(infc_model PUBLIC \${CMAKE_CURRENT_SOURCE_DIR})
target_link_libraries(infc_model PUBLIC Threads::Threads m)
add_executable(model_run infc_main.c)
set_property(TARGET model_run PROPERTY C_STANDARD 99)
target_link_libraries(model_run PRIVATE infc_model)
`;
}

/** Renders every file of the artifact in memory. */
export function renderArtifact(p: Program, r: CStyleRenderer, memory: MemoryPlan, opts: ArtifactOptions): Artifact {
  const version = compilerVersion();
  const enc = new TextEncoder();
  const kernelsSrc = renderProgram(p, r, commentSafe(`generated by infc ${version} from ${basename(opts.modelPath)} (graph ${p.name}); target ${r.target}`, 400));
  const srcBytes = enc.encode(kernelsSrc);
  const kernelsId = fnv1a64(srcBytes);
  const modelC = `${kernelsSrc}const uint64_t infc_model_kernels_id = UINT64_C(0x${kernelsId.toString(16).padStart(16, "0")});\n`;
  const plan = planFile(p, memory, kernelsId);

  const files = new Map<string, Uint8Array>();
  files.set("model.infc", plan.bytes);
  files.set("model.c", enc.encode(modelC));
  for (const f of RUNTIME_FILES) files.set(f, new Uint8Array(readFileSync(join(RUNTIME_DIR, f))));
  files.set("Makefile", enc.encode(makefile(opts.cpu, version)));
  files.set("CMakeLists.txt", enc.encode(cmakeLists(opts.cpu, version)));

  const io = (id: number): IoInfo => {
    const b = p.buffers[id]!;
    return { name: b.name, dtype: b.dtype, shape: b.shape, bytes: b.bytes };
  };
  const inputs = p.inputs.map(io);
  const outputs = p.outputs.map(io);
  const manifest = {
    format: "infc-artifact",
    compiler: { name: "infc", version },
    target: r.target,
    cpu: opts.cpu,
    flags: { level: opts.level, dims: opts.dims },
    source: { file: basename(opts.modelPath), ...sha256File(opts.modelPath) },
    plan: { file: "model.infc", formatVersion: PLAN.VERSION, kernelsId: `0x${kernelsId.toString(16).padStart(16, "0")}` },
    inputs,
    outputs,
    kernels: p.kernels.length,
    steps: p.steps.length,
    /** What each step runs (for `infc bench --profile`): the kernel, the source node and op, its task count. */
    stepInfo: p.steps.map((st) => ({ kernel: p.kernels[st.kernel]!.name, node: st.node, op: st.op, tasks: st.tasks, ...(st.prepare ? { prepare: true } : {}) })),
    arena: { bytes: memory.arenaBytes, lowerBound: memory.lowerBound, noReuse: memory.noReuseBytes, strategy: memory.strategy },
    weightsBytes: plan.weightsBytes,
    preparedBytes: plan.preparedBytes,
    files: Object.fromEntries([...files].map(([name, b]) => [name, { bytes: b.byteLength, sha256: sha256(b) }])),
  };
  files.set("manifest.json", enc.encode(stableJson(manifest)));
  return { files, inputs, outputs, kernels: p.kernels.length, steps: p.steps.length, memory, weightsBytes: plan.weightsBytes, preparedBytes: plan.preparedBytes };
}

/**
 * Writes files into `dir` atomically: into a fresh temporary directory beside it, then renamed into
 * place. An existing `dir` is replaced only if it is empty or an infc artifact (has manifest.json);
 * its build cache (.build) is carried over.
 */
export function writeArtifactDir(dir: string, files: ReadonlyMap<string, Uint8Array>): void {
  const dest = resolve(dir);
  mkdirSync(dirname(dest), { recursive: true });
  const exists = existsSync(dest);
  if (exists) {
    if (!statSync(dest).isDirectory()) throw new ArtifactError(`output '${dir}' exists and is not a directory`);
    const entries = readdirSync(dest);
    if (entries.length && !entries.includes("manifest.json")) {
      throw new ArtifactError(`refusing to replace '${dir}': it is not empty and not an infc artifact (no manifest.json)`);
    }
  }
  const tmp = `${dest}.infc-tmp-${process.pid}`;
  const old = `${dest}.infc-old-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  try {
    mkdirSync(tmp);
    for (const [name, bytes] of files) writeFileSync(join(tmp, name), bytes);
    if (exists && existsSync(join(dest, ".build"))) renameSync(join(dest, ".build"), join(tmp, ".build"));
    if (exists) renameSync(dest, old);
    try {
      renameSync(tmp, dest);
    } catch (e) {
      if (exists) renameSync(old, dest);
      throw e;
    }
    if (exists) rmSync(old, { recursive: true, force: true });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
