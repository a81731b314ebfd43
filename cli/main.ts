/**
 * The `infc` command line. The only place that parses argv, prints, and sets the exit code.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { loadModel } from "../frontend/load.ts";
import { modelStats, type ModelStats } from "../ir/stats.ts";
import { interpret } from "../ir/interpret.ts";
import { Tensor } from "../ir/tensor.ts";
import type { RValue } from "../ir/op-types.ts";
import { readNpy, writeNpy } from "../frontend/npy.ts";
import { readPbValue } from "../conformance/node-test.ts";
import { runSuite, RUNNERS } from "../conformance/run.ts";
import { formatType } from "../ir/graph.ts";
import { optimizeForCli, parsePassList } from "../passes/pipeline.ts";
import { DEFAULT_PASS_CONTEXT } from "../passes/pass.ts";
import { benchArtifact, compileArtifact, profileArtifact, readManifest, runArtifact, type StepProfile } from "../targets/c.ts";

/** An error in what the user asked for (bad flag values, missing inputs): printed without a stack. */
class UsageError extends Error {
  override name = "UsageError";
}

let verbose = false;

function fmtCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(2)} K`;
  return String(n);
}

function printStats(s: ModelStats, path: string): void {
  const out: string[] = [];
  out.push(`model    ${path}`);
  out.push(`format   ${s.format}   opsets ${Object.entries(s.opsets).map(([d, v]) => `${d || "ai.onnx"}:${v}`).join(" ")}`);
  if (s.meta.producer) out.push(`producer ${s.meta.producer}`);
  out.push("inputs");
  for (const v of s.inputs) out.push(`  ${v.name}: ${v.type}`);
  out.push("outputs");
  for (const v of s.outputs) out.push(`  ${v.name}: ${v.type}`);
  out.push(`nodes    ${s.nodes}`);
  out.push(`params   ${fmtCount(s.params)} (${fmtCount(s.paramBytes)}B)`);
  out.push(`flops    ${fmtCount(s.flops)}${s.inputs.some((v) => v.shape?.some((d) => typeof d === "string")) ? " (per unit of each symbolic dim)" : ""}`);
  out.push("ops");
  for (const [op, n] of Object.entries(s.ops)) out.push(`  ${op.padEnd(24)} ${n}`);
  process.stdout.write(out.join("\n") + "\n");
}

function readValue(file: string, type: Parameters<typeof readPbValue>[1]): RValue {
  if (file.endsWith(".pb")) return readPbValue(file, type);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read input file '${file}': ${(e as Error).message}`);
  }
  return readNpy(bytes, file);
}

/** A file name for an output value (model names may hold path separators and other oddities). */
function outputFileName(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, "_").replace(/^\.+/, "_");
  return `${safe || "output"}.npy`;
}

function cmdRun(modelPath: string, inputs: readonly string[], outDir: string, threads: number): void {
  if (isArtifactDir(modelPath)) {
    cmdRunArtifact(modelPath, inputs, outDir, threads);
    return;
  }
  const model = loadModel(modelPath);
  const g = model.graph;
  const byName = inputFiles(inputs, g.inputs.map((v) => v.name));
  const values = g.inputs.map((v) => {
    const file = byName.get(v.name);
    if (!file) throw new UsageError(`missing --input for '${v.name}' (${formatType(v.type)})`);
    return readValue(file, v.type);
  });
  const outs = interpret(g, values);
  writeOutputs(outDir, g.outputs.map((v, i) => {
    const r = outs[i];
    if (!(r instanceof Tensor)) throw new UsageError(`output '${v.name}' is a ${r === undefined ? "missing value" : r.kind}; only tensors can be written as .npy`);
    return [v.name, r] as const;
  }));
}

/** Writes one .npy per output into a temporary folder first, so an error leaves nothing half-written. */
function writeOutputs(outDir: string, outs: readonly (readonly [string, Tensor])[]): void {
  mkdirSync(outDir, { recursive: true });
  const tmp = join(outDir, `.infc-tmp-${process.pid}`);
  mkdirSync(tmp, { recursive: true });
  try {
    const names: [string, string, Tensor][] = [];
    for (const [name, r] of outs) {
      const f = outputFileName(name);
      writeFileSync(join(tmp, f), writeNpy(r));
      names.push([name, f, r]);
    }
    for (const [name, f, r] of names) {
      renameSync(join(tmp, f), join(outDir, f));
      process.stdout.write(`${name}: ${r.dtype}[${r.shape.join(",")}] -> ${join(outDir, f)}\n`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function isArtifactDir(path: string): boolean {
  return existsSync(path) && statSync(path).isDirectory() && existsSync(join(path, "manifest.json"));
}

/** Pairs --input specs (name=file, or a bare file for a single input) with the named inputs. */
function inputFiles(specs: readonly string[], names: readonly string[]): Map<string, string> {
  const byName = new Map<string, string>();
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    if (eq < 0) {
      if (names.length !== 1) throw new UsageError(`--input '${spec}': name the input (name=file); the model has ${names.length} inputs: ${names.join(", ")}`);
      byName.set(names[0]!, spec);
    } else byName.set(spec.slice(0, eq), spec.slice(eq + 1));
  }
  for (const name of byName.keys()) {
    if (!names.includes(name)) throw new UsageError(`--input: the model has no input '${name}' (inputs: ${names.join(", ")})`);
  }
  return byName;
}

function cmdRunArtifact(dir: string, inputs: readonly string[], outDir: string, threads: number): void {
  const manifest = readManifest(dir);
  const byName = inputFiles(inputs, manifest.inputs.map((v) => v.name));
  const raw = manifest.inputs.map((v) => {
    const file = byName.get(v.name);
    if (!file) throw new UsageError(`missing --input for '${v.name}' (${v.dtype}[${v.shape.join(",")}])`);
    const t = readValue(file, { kind: "tensor", dtype: v.dtype, shape: [...v.shape] });
    if (!(t instanceof Tensor) || t.dtype !== v.dtype || t.shape.join(",") !== v.shape.join(",")) {
      const found = t instanceof Tensor ? `${t.dtype}[${t.shape.join(",")}]` : t.kind;
      throw new UsageError(`--input '${v.name}': expected ${v.dtype}[${v.shape.join(",")}], found ${found} in '${file}'`);
    }
    return t.raw();
  });
  const outs = runArtifact(dir, raw, { threads });
  writeOutputs(outDir, manifest.outputs.map((v, i) => [v.name, Tensor.fromRaw(v.dtype, v.shape, outs[i]!)] as const));
}

function parseDims(specs: readonly string[]): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const part of specs.flatMap((s) => s.split(",")).filter((s) => s !== "")) {
    const m = /^([^=]+)=(\d+)$/.exec(part);
    if (!m) throw new UsageError(`--dims '${part}': expected name=value with a non-negative integer value`);
    dims[m[1]!] = Number(m[2]);
  }
  return dims;
}

function fmtBytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(2)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(2)} KiB`;
  return `${n} B`;
}

interface PassFlags {
  passes?: string | undefined;
  "print-after"?: string | undefined;
}

/** The optimizer request of --passes / --print-after (IR printed to stderr). */
function passRequest(a: PassFlags): { passes?: string[]; printAfter?: string; emit?: (t: string) => void } {
  return {
    ...(a.passes !== undefined ? { passes: parsePassList(a.passes) } : {}),
    ...(a["print-after"] !== undefined ? { printAfter: a["print-after"], emit: (t: string) => process.stderr.write(t) } : {}),
  };
}

function cmdCompile(modelPath: string, target: string, outDir: string, level: string, cpu: string, dims: Record<string, number>, flags: PassFlags): void {
  if (target !== "c") throw new UsageError(`--target '${target}' cannot be compiled to an artifact yet (expected: c)`);
  if (!/^O[0-3]$/.test(level)) throw new UsageError(`optimization level '${level}': expected -O0, -O1, -O2 or -O3`);
  let art: ReturnType<typeof compileArtifact>;
  try {
    art = compileArtifact(modelPath, outDir, { level, cpu, dims, ...passRequest(flags), ...(verbose ? { log: (m: string) => process.stderr.write(`${m}\n`) } : {}) });
  } catch (e) {
    if (e instanceof Error && /dynamic shape/.test(e.message)) e.message += "\n  hint: give symbolic dims sizes with --dims name=value,... (e.g. --dims batch=1)";
    throw e;
  }
  const m = art.memory;
  const ratio = m.lowerBound ? ` (${(m.arenaBytes / m.lowerBound).toFixed(3)}x)` : "";
  const out = [
    `compiled ${modelPath} -> ${outDir} (target c, -${level}, cpu ${cpu})`,
    `kernels  ${art.kernels}   steps ${art.steps}`,
    `arena    ${fmtBytes(m.arenaBytes)}${ratio}   lower bound ${fmtBytes(m.lowerBound)}   no reuse ${fmtBytes(m.noReuseBytes)}`,
    `weights  ${fmtBytes(art.weightsBytes)}${art.preparedBytes ? `   prepared at load ${fmtBytes(art.preparedBytes)} (weights repacked for their kernels)` : ""}`,
    `inputs   ${art.inputs.map((v) => `${v.name}: ${v.dtype}[${v.shape.join(",")}]`).join(", ")}`,
    `outputs  ${art.outputs.map((v) => `${v.name}: ${v.dtype}[${v.shape.join(",")}]`).join(", ")}`,
    `files    ${[...art.files.keys()].join(" ")}`,
  ];
  process.stdout.write(out.join("\n") + "\n");
}

/** The `bench --profile` report: the slowest steps, then time per op, with shares of the total. */
function formatProfile(r: { steps: StepProfile[]; totalUs: number; threads: number; prepareSteps: number }, top: number): string {
  const pct = (us: number): string => `${((100 * us) / Math.max(r.totalUs, 1e-9)).toFixed(1).padStart(5)}%`;
  const prep = r.prepareSteps ? ` (and ${r.prepareSteps} prepare steps, run once per loaded model, not timed)` : "";
  const lines = [`sum of steps ${(r.totalUs / 1000).toFixed(3)} ms over ${r.steps.length} steps${prep}, threads ${r.threads}`, "", "slowest steps:"];
  for (const s of [...r.steps].sort((a, b) => b.us - a.us || a.step - b.step).slice(0, Math.max(0, top))) {
    lines.push(`  ${String(s.step).padStart(4)}  ${s.us.toFixed(1).padStart(9)} us ${pct(s.us)}  ${s.op.padEnd(18)} ${JSON.stringify(s.node)}  tasks ${s.tasks}`);
  }
  const byOp = new Map<string, { us: number; n: number }>();
  for (const s of r.steps) {
    const e = byOp.get(s.op) ?? { us: 0, n: 0 };
    byOp.set(s.op, { us: e.us + s.us, n: e.n + 1 });
  }
  lines.push("", "by op:");
  for (const [op, e] of [...byOp].sort((a, b) => b[1].us - a[1].us || a[0].localeCompare(b[0]))) {
    lines.push(`  ${op.padEnd(18)} ${String(e.n).padStart(4)} steps ${(e.us / 1000).toFixed(3).padStart(9)} ms ${pct(e.us)}`);
  }
  return `${lines.join("\n")}\n`;
}

async function cmdConformance(suite: string, target: string, report: string | undefined, filter: readonly string[]): Promise<number> {
  if (!RUNNERS[target]) throw new UsageError(`--target '${target}' is not supported by conformance yet (expected: ${Object.keys(RUNNERS).join(", ")})`);
  const res = await runSuite(resolve(suite), target, {
    filter,
    onResult: (r) => {
      if (r.status === "fail") process.stdout.write(`FAIL ${r.test}: ${r.reason}\n`);
    },
  });
  if (report) {
    writeFileSync(report, JSON.stringify({ target, passed: res.passed, failed: res.failed, skipped: res.skipped, results: res.results }, null, 1) + "\n");
  }
  process.stdout.write(`${res.passed} passed, ${res.failed} failed, ${res.skipped} skipped\n`);
  return res.failed ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  verbose = argv.includes("--verbose");
  let code = 0;
  await yargs(argv)
    .scriptName("infc")
    .usage("$0 <command> [options]\n\nA model compiler: ONNX → typed graph IR → interpreter, or a compiled C artifact.")
    .option("verbose", { type: "boolean", description: "Show stack traces for errors" })
    .command(
      "inspect <model>",
      "Show a model's inputs, outputs, ops, parameters and FLOPs",
      (y) =>
        y
          .positional("model", { type: "string", demandOption: true, description: "Model file (.onnx)" })
          .option("json", { type: "boolean", description: "Print one JSON object (with -O: plus `kernels`, the node count after optimization)" })
          .option("ir", { type: "boolean", description: "Print the text IR (after optimization when -O or --passes is given)" })
          .option("opt-level", { type: "string", description: "Optimize first: -O0 .. -O3" })
          .option("passes", { type: "string", description: "Optimize with exactly these passes: a,b,c" })
          .option("print-after", { type: "string", description: "Print the text IR to stderr after this pass ('all': every pass)" }),
      async (a) => {
        const model = loadModel(a.model);
        const s = modelStats(model); // of the model as imported
        let kernels: number | undefined;
        if (a["opt-level"] !== undefined || a.passes !== undefined || a["print-after"] !== undefined) {
          const level = a["opt-level"] ?? "O2";
          if (!/^O[0-3]$/.test(level)) throw new UsageError(`optimization level '${level}': expected -O0, -O1, -O2 or -O3`);
          kernels = optimizeForCli(model.graph, { level, ...passRequest(a) }, DEFAULT_PASS_CONTEXT).nodesAfter;
        }
        if (a.ir) {
          const { printModel } = await import("../ir/text.ts"); // loaded only when asked: keeps plain inspect fast
          process.stdout.write(printModel(model));
          return;
        }
        if (a.json) process.stdout.write(JSON.stringify(kernels === undefined ? s : { ...s, kernels }) + "\n");
        else {
          printStats(s, a.model);
          if (kernels !== undefined) process.stdout.write(`after optimization: ${kernels} nodes\n`);
        }
      },
    )
    .command(
      "compile <model>",
      "Compile a model into an artifact directory (plan + weights, kernels, runtime, build files, manifest)",
      (y) =>
        y
          .positional("model", { type: "string", demandOption: true, description: "Model file (.onnx)" })
          .option("target", { type: "string", default: "c", description: "Target: c" })
          .option("o", { alias: "output", type: "string", demandOption: true, description: "Artifact directory to write" })
          .option("opt-level", { type: "string", default: "O2", description: "Optimization level (also -O0 .. -O3)" })
          .option("cpu", { type: "string", default: "native", description: "ISA for -march: x86-64-v3, x86-64-v4, armv8-a, native" })
          .option("dims", { type: "string", array: true, default: [] as string[], description: "Sizes of symbolic dims: name=value,..." })
          .option("passes", { type: "string", description: "Optimize with exactly these passes (a,b,c) instead of the level's pipeline" })
          .option("print-after", { type: "string", description: "Print the text IR to stderr after this pass ('all': every pass)" }),
      (a) => cmdCompile(a.model, a.target, a.o, a["opt-level"], a.cpu, parseDims(a.dims.map(String)), a),
    )
    .command(
      "run <model>",
      "Run a model in the reference interpreter, or a compiled artifact directory; writes <output-name>.npy per output",
      (y) =>
        y
          .positional("model", { type: "string", demandOption: true, description: "Model file (.onnx) or artifact directory" })
          .option("input", { type: "string", array: true, default: [] as string[], description: "name=file.npy or name=file.pb (TensorProto); repeat per input" })
          .option("output-dir", { type: "string", default: ".", description: "Folder for the output .npy files" })
          .option("threads", { type: "number", default: 1, description: "Threads for an artifact (0: one per CPU)" }),
      (a) => cmdRun(a.model, a.input.map(String), a["output-dir"], a.threads),
    )
    .command(
      "bench <artifact>",
      "Build and benchmark an artifact directory on zero inputs; prints the median latency",
      (y) =>
        y
          .positional("artifact", { type: "string", demandOption: true, description: "Artifact directory (from infc compile)" })
          .option("threads", { type: "number", default: 1, description: "Threads (0: one per CPU)" })
          .option("iters", { type: "number", default: 50, description: "Timed iterations (after warm-up)" })
          .option("profile", { type: "boolean", default: false, description: "Time every step alone; print the slowest steps and the time per op" })
          .option("top", { type: "number", default: 15, description: "With --profile: how many of the slowest steps to list" }),
      (a) => {
        if (!isArtifactDir(a.artifact)) throw new UsageError(`'${a.artifact}' is not an artifact directory (no manifest.json); compile one with infc compile`);
        if (!Number.isInteger(a.iters) || a.iters < 1) throw new UsageError(`--iters ${a.iters}: expected a positive integer`);
        if (a.profile) {
          process.stdout.write(formatProfile(profileArtifact(a.artifact, { threads: a.threads, iters: a.iters }), a.top));
          return;
        }
        const r = benchArtifact(a.artifact, { threads: a.threads, iters: a.iters });
        process.stdout.write(`median ${r.medianMs.toFixed(4)} ms   min ${r.minMs.toFixed(4)} ms   iters ${a.iters}   threads ${r.threads}\n`);
      },
    )
    .command(
      "conformance <suite>",
      "Run ONNX backend node tests (<test>/model.onnx + test_data_set_*) and compare outputs",
      (y) =>
        y
          .positional("suite", { type: "string", demandOption: true, description: "Folder of node test folders" })
          .option("target", { type: "string", default: "interp", description: "Where to run: interp (reference interpreter) or c (compiled, built with cc)" })
          .option("report", { type: "string", description: "Write a JSON report here" })
          .option("filter", { type: "string", array: true, default: [] as string[], description: "Only tests whose name contains one of these" }),
      async (a) => {
        code = await cmdConformance(a.suite, a.target, a.report, a.filter.map(String));
      },
    )
    .demandCommand(1, "Name a command: inspect, compile, run, bench or conformance")
    .strict()
    .help()
    .fail((msg, err) => {
      if (err) throw err;
      throw new UsageError(msg);
    })
    .parseAsync();
  return code;
}

// -O0 .. -O3 as on a C compiler's command line
main(hideBin(process.argv).map((a) => (/^-O[0-3]$/.test(a) ? `--opt-level=${a.slice(1)}` : a))).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    const err = e instanceof Error ? e : new Error(String(e));
    const known = err.name !== "Error" && err.name !== "TypeError" && err.name !== "RangeError" && err.name !== "ReferenceError";
    process.stderr.write(`infc: ${known ? "" : "internal error: "}${err.name}: ${err.message}\n`);
    if (verbose && err.stack) process.stderr.write(err.stack + "\n");
    else if (!known) process.stderr.write("(run with --verbose for the stack trace)\n");
    process.exitCode = err instanceof UsageError ? 2 : 1;
  },
);
