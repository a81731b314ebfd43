/**
 * The optimization pipelines: one flat list of pass names per level. `runPasses` applies a list;
 * `optimize` applies a level; `optimizeForCli` is what `infc … -O2 --passes … --print-after …`
 * calls. Every level starts by making shapes as static as the facts allow, which code generation
 * needs.
 *
 * - O0: only what compilation needs (static shapes, folded constants, no dead code, and for targets
 *   without control flow, If/Loop/Scan lowered where it is static: lower-control-flow, which
 *   simplifies as it goes so conditions and trip counts fold).
 * - O1: + exact local rewrites (simplify, which also folds constants and refines shapes until
 *   nothing changes) and common subexpression elimination.
 * - O2: + fold-batchnorm (before simplify, which splits Gemm into MatMul + Add, and again after it,
 *   for BatchNormalizations simplify exposed), then the fusers, each taking a pattern before the
 *   next can split it: fuse-norm (LayerNorm/RMSNorm/GELU/SiLU spelled out → one op),
 *   fuse-attention (scaled dot-product attention with its head reshapes → Attention),
 *   fuse-epilogue (bias / residual / activation into FusedConv, FusedMatMul, FusedGemm), layout
 *   (for targets preferring NHWC: convs and pools channels-last, transposes cancelled; else nothing),
 *   fuse-elementwise (what is left of elementwise trees → FusedElementwise); a last
 *   eliminate-common merges the constants the fusers created.
 * - O3: O2 for now.
 *
 * Every level is idempotent: running it again on its own output changes nothing.
 */
import type { Graph } from "../ir/graph.ts";
import { printGraph } from "../ir/text.ts";
import { PASSES } from "./index.ts";
import { type PassContext, PassError } from "./pass.ts";

const STATIC = ["infer-shapes", "fold-constants", "lower-control-flow", "infer-shapes", "fold-constants", "eliminate-dead"];

const O1 = [...STATIC, "simplify", "eliminate-common", "eliminate-dead"];

const O2 = [
  ...STATIC, "fold-batchnorm", "simplify", "fold-batchnorm", "eliminate-common", "fuse-norm", "fuse-attention", "fuse-epilogue",
  "layout", "fuse-elementwise", "eliminate-common", "eliminate-dead",
];

export const PIPELINES: Readonly<Record<string, readonly string[]>> = { O0: STATIC, O1, O2, O3: O2 };

export interface RunPassesOptions {
  /** Called after each pass (for --print-after). */
  after?: (name: string, graph: Graph) => void;
}

/** Runs the named passes in order. */
export function runPasses(graph: Graph, names: readonly string[], ctx: PassContext, opts: RunPassesOptions = {}): void {
  for (const name of names) {
    const p = PASSES[name];
    if (!p) throw new PassError(`unknown pass '${name}' (known: ${Object.keys(PASSES).join(", ")})`);
    const changed = p.run(graph, ctx);
    ctx.log?.(`${name}: ${changed ? "changed" : "no change"}`);
    opts.after?.(name, graph);
  }
}

/** Runs the pipeline of an optimization level ("O0".."O3"). */
export function optimize(graph: Graph, level: string, ctx: PassContext, opts: RunPassesOptions = {}): void {
  const list = PIPELINES[level];
  if (!list) throw new PassError(`unknown optimization level '${level}' (expected O0, O1, O2 or O3)`);
  runPasses(graph, list, ctx, opts);
}

/** What the command line asks of the optimizer. */
export interface OptimizeRequest {
  /** "O0".."O3" (default "O2"); ignored when `passes` is given. */
  readonly level?: string;
  /** An explicit pass list (`--passes a,b,c`), run instead of the level's pipeline. */
  readonly passes?: readonly string[];
  /** `--print-after <pass>`: a pass name, or "all". Each time it runs, the graph is handed to `emit`. */
  readonly printAfter?: string;
  /** Receives `// after <pass> (#k)` plus the text IR, for each print-after hit. */
  readonly emit?: (text: string) => void;
}

export interface OptimizeSummary {
  /** The passes that ran, in order. */
  readonly passes: readonly string[];
  readonly nodesBefore: number;
  /** Top-level nodes left: what `inspect --json` reports as `kernels`. */
  readonly nodesAfter: number;
}

/** Splits `--passes a,b,c` into names, checking each is known. */
export function parsePassList(spec: string): string[] {
  const names = spec.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
  for (const n of names) {
    if (!PASSES[n]) throw new PassError(`unknown pass '${n}' in --passes (known: ${Object.keys(PASSES).join(", ")})`);
  }
  return names;
}

/** Runs a level or an explicit pass list, printing after the requested pass; the CLI's entry. */
export function optimizeForCli(graph: Graph, req: OptimizeRequest, ctx: PassContext): OptimizeSummary {
  const names = req.passes ?? PIPELINES[req.level ?? "O2"];
  if (!names) throw new PassError(`unknown optimization level '${req.level ?? ""}' (expected O0, O1, O2 or O3)`);
  const target = req.printAfter;
  if (target !== undefined && target !== "all" && !PASSES[target]) {
    throw new PassError(`unknown pass '${target}' in --print-after (known: all, ${Object.keys(PASSES).join(", ")})`);
  }
  const nodesBefore = graph.nodes.length;
  const seen = new Map<string, number>();
  runPasses(graph, names, ctx, {
    after: (name, g) => {
      const k = (seen.get(name) ?? 0) + 1;
      seen.set(name, k);
      if (req.emit && (target === "all" || target === name)) req.emit(`// after ${name} (#${k})\n${printGraph(g)}`);
    },
  });
  return { passes: names, nodesBefore, nodesAfter: graph.nodes.length };
}
