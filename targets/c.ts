/**
 * The portable C target: descriptor (capabilities, renderer, toolchain), building with the host
 * C compiler, and compiling / building / running / benchmarking artifacts.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { TargetCaps } from "./caps.ts";
import { CRenderer } from "../codegen/c.ts";
import { type Artifact, type IoInfo, renderArtifact, writeArtifactDir } from "../codegen/artifact.ts";
import { compileProgram } from "../codegen/compile.ts";
import { loadModel } from "../frontend/load.ts";
import { planMemory } from "../passes/plan-memory.ts";

export class ToolchainError extends Error {
  override name = "ToolchainError";
}

export const C_CAPS: TargetCaps = {
  dtypes: ["f32", "f64", "f16", "bf16", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "bool"],
  layout: "nchw",
  vectorWidth: 8,
  threads: true,
  controlFlow: false,
};

export const C_TARGET = {
  name: "c",
  caps: C_CAPS,
  renderer: (): CRenderer => new CRenderer(),
  /** ISA choices for --cpu, as -march values. */
  cpus: { "x86-64-v3": "x86-64-v3", "x86-64-v4": "x86-64-v4", "armv8-a": "armv8-a", native: "native" } as Record<string, string>,
} as const;

/** The host C compiler (CC, else cc). */
export function hostCC(): string {
  return process.env.CC ?? "cc";
}

/** Compiles and links C sources into an executable or shared library; throws ToolchainError with the compiler's output. */
export function compileC(sources: readonly string[], out: string, flags: readonly string[], cwd: string): void {
  const args = [...flags, "-o", out, ...sources, "-lm", "-lpthread"];
  try {
    execFileSync(hostCC(), args, { cwd, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 16 << 20 });
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    const msg = err.stderr?.toString().split("\n").slice(0, 20).join("\n") ?? err.message;
    throw new ToolchainError(`${hostCC()} failed in ${cwd}:\n${msg}`);
  }
}

// ---- artifacts: compile a model into a directory, build it with the host cc, run it ----------

/** Thrown when an artifact's runner reports an error (message from the runner). */
export class ArtifactRunError extends Error {
  override name = "ArtifactRunError";
}

export interface CompileArtifactOptions {
  readonly level?: string;
  readonly cpu?: string;
  readonly dims?: Readonly<Record<string, number>>;
  readonly log?: (msg: string) => void;
  /** Passed to the optimizer: an explicit pass list and --print-after. */
  readonly passes?: readonly string[];
  readonly printAfter?: string;
  readonly emit?: (text: string) => void;
}

/** Compiles a model file into an artifact directory (atomically); returns what was written. */
export function compileArtifact(modelPath: string, dir: string, opts: CompileArtifactOptions = {}): Artifact {
  const cpu = opts.cpu ?? "native";
  if (!C_TARGET.cpus[cpu]) throw new ToolchainError(`--cpu '${cpu}' is not known (expected: ${Object.keys(C_TARGET.cpus).join(", ")})`);
  const model = loadModel(modelPath);
  const level = opts.level ?? "O2";
  const dims = opts.dims ?? {};
  const { program, renderer } = compileProgram(model, C_TARGET, {
    level, dims, ...(opts.log ? { log: opts.log } : {}), ...(opts.passes ? { passes: opts.passes } : {}),
    ...(opts.printAfter ? { printAfter: opts.printAfter } : {}), ...(opts.emit ? { emit: opts.emit } : {}),
  });
  const memory = planMemory(program);
  const art = renderArtifact(program, renderer, memory, { modelPath, level, cpu, dims });
  writeArtifactDir(dir, art.files);
  return art;
}

interface Manifest {
  cpu: string;
  inputs: IoInfo[];
  outputs: IoInfo[];
  files: Record<string, { sha256: string }>;
}

/** Reads an artifact's manifest.json. */
export function readManifest(dir: string): Manifest {
  const path = join(dir, "manifest.json");
  try {
    return JSON.parse(readFileSync(path, "utf8")) as Manifest;
  } catch (e) {
    throw new ArtifactRunError(`'${dir}' is not an infc artifact: cannot read ${path}: ${(e as Error).message}`);
  }
}

const BUILD_SOURCES = ["model.c", "infc_runtime.c", "infc_pool.c", "infc_main.c"];
const BUILD_HEADERS = ["infc.h", "infc_kernel.h", "infc_plan.h"];

/**
 * Builds one product of an artifact with the host cc (-O3 -march=<cpu>), cached in
 * <dir>/.build/<hash>/ where the hash covers the compiler, the flags and every source and header.
 * Returns the product's path.
 */
function buildProduct(artifactDir: string, cpuOpt: string | undefined, product: string, sources: readonly string[], extra: readonly string[]): string {
  const dir = resolve(artifactDir);
  const manifest = readManifest(dir);
  const cpu = cpuOpt ?? manifest.cpu ?? "native";
  const march = C_TARGET.cpus[cpu];
  if (!march) throw new ToolchainError(`--cpu '${cpu}' is not known (expected: ${Object.keys(C_TARGET.cpus).join(", ")})`);
  const flags = ["-O3", `-march=${march}`, "-fno-math-errno", "-std=c99", "-w", ...extra];
  const h = createHash("sha256");
  h.update(`${hostCC()}\0${flags.join(" ")}\0${product}\0`);
  for (const f of [...sources, ...BUILD_HEADERS]) {
    h.update(`${f}\0`);
    h.update(readFileSync(join(dir, f)));
  }
  const key = h.digest("hex").slice(0, 24);
  const out = join(dir, ".build", key, product);
  if (existsSync(out)) return out;
  const tmp = join(dir, ".build", `${key}.tmp-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  try {
    compileC(sources.map((f) => join(dir, f)), join(tmp, product), [...flags, `-I${dir}`], tmp);
    rmSync(join(dir, ".build", key), { recursive: true, force: true });
    renameSync(tmp, join(dir, ".build", key));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return out;
}

/** Builds (cached) an artifact's runner executable; returns its path. */
export function buildArtifact(artifactDir: string, opts: { cpu?: string } = {}): string {
  return buildProduct(artifactDir, opts.cpu, "model_run", BUILD_SOURCES, []);
}

/** Builds (cached) an artifact as a shared library exporting the infc.h API; returns its path. */
export function buildArtifactLibrary(artifactDir: string, opts: { cpu?: string } = {}): string {
  return buildProduct(artifactDir, opts.cpu, "libinfc_model.so", BUILD_SOURCES.filter((f) => f !== "infc_main.c"), ["-shared", "-fPIC"]);
}

function runRunner(exe: string, args: readonly string[]): string {
  try {
    return execFileSync(exe, args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", maxBuffer: 16 << 20 });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new ArtifactRunError((err.stderr ?? "").trim() || err.message);
  }
}

/** Builds (if needed) and runs an artifact on raw input bytes; returns the raw output bytes. */
export function runArtifact(dir: string, inputs: readonly Uint8Array[], opts: { threads?: number; cpu?: string } = {}): Uint8Array[] {
  const manifest = readManifest(dir);
  if (inputs.length !== manifest.inputs.length) throw new ArtifactRunError(`the artifact has ${manifest.inputs.length} inputs, ${inputs.length} given`);
  manifest.inputs.forEach((v, i) => {
    if (inputs[i]!.byteLength !== v.bytes) throw new ArtifactRunError(`input '${v.name}' (${v.dtype}[${v.shape.join(",")}]): expected ${v.bytes} bytes, found ${inputs[i]!.byteLength}`);
  });
  const exe = buildArtifact(dir, opts.cpu ? { cpu: opts.cpu } : {});
  const tmp = mkdtempSync(join(tmpdir(), "infc-run-"));
  try {
    const ins = inputs.map((b, i) => {
      const f = join(tmp, `in${i}.bin`);
      writeFileSync(f, b);
      return f;
    });
    const outs = manifest.outputs.map((_, i) => join(tmp, `out${i}.bin`));
    runRunner(exe, [join(dir, "model.infc"), "--threads", String(opts.threads ?? 1), ...ins, "--out", ...outs]);
    return outs.map((f) => new Uint8Array(readFileSync(f)));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export interface StepProfile {
  readonly step: number;
  readonly op: string;
  readonly node: string;
  readonly kernel: string;
  readonly tasks: number;
  /** Median time of the step run alone, microseconds. */
  readonly us: number;
}

/**
 * Builds (if needed) and times every step of an artifact alone on zero inputs (median of `iters`).
 * Prepare steps (run once per loaded model) are left out of `steps` and counted in `prepareSteps`.
 */
export function profileArtifact(dir: string, opts: { threads?: number; iters?: number; cpu?: string } = {}): { steps: StepProfile[]; totalUs: number; threads: number; prepareSteps: number } {
  const info = (readManifest(dir) as unknown as { stepInfo?: { kernel: string; node: string; op: string; tasks: number; prepare?: boolean }[] }).stepInfo;
  if (!info) throw new ArtifactRunError(`${dir}: the manifest has no stepInfo (compiled by an older infc): recompile it`);
  const exe = buildArtifact(dir, opts.cpu ? { cpu: opts.cpu } : {});
  const out = runRunner(exe, [join(dir, "model.infc"), "--threads", String(opts.threads ?? 1), "--profile", String(opts.iters ?? 20)]);
  const steps: StepProfile[] = [];
  for (const m of out.matchAll(/^step (\d+) ([\d.]+)$/gm)) {
    const i = Number(m[1]);
    const s = info[i];
    if (!s) throw new ArtifactRunError(`runner reported step ${i}, the manifest lists ${info.length}`);
    steps.push({ step: i, kernel: s.kernel, node: s.node, op: s.op, tasks: s.tasks, us: Number(m[2]) });
  }
  const total = /^total_us ([\d.]+) threads (\d+)$/m.exec(out);
  if (!total || steps.length !== info.length) throw new ArtifactRunError(`unexpected runner output: ${out.trim().slice(0, 200)}`);
  const run = steps.filter((st) => !info[st.step]!.prepare);
  return { steps: run, totalUs: run.reduce((t, st) => t + st.us, 0), threads: Number(total[2]), prepareSteps: steps.length - run.length };
}

/** Builds (if needed) and benchmarks an artifact on zero inputs: median and min latency in ms. */
export function benchArtifact(dir: string, opts: { threads?: number; iters?: number; cpu?: string } = {}): { medianMs: number; minMs: number; threads: number } {
  const exe = buildArtifact(dir, opts.cpu ? { cpu: opts.cpu } : {});
  const out = runRunner(exe, [join(dir, "model.infc"), "--threads", String(opts.threads ?? 1), "--bench", String(opts.iters ?? 50)]);
  const m = /median_ms ([\d.]+) min_ms ([\d.]+) iters \d+ threads (\d+)/.exec(out);
  if (!m) throw new ArtifactRunError(`unexpected runner output: ${out.trim()}`);
  return { medianMs: Number(m[1]), minMs: Number(m[2]), threads: Number(m[3]) };
}
