/**
 * Golden pass-test files (test/passes/<pass>.ir), shared by the pass tests and the C kernel tests:
 * case parsing (the format is described in test/passes.test.ts) and deterministic random inputs.
 */
import { readFileSync } from "node:fs";
import type { Graph } from "../../ir/graph.ts";
import { elidedSummary } from "../../ir/text.ts";
import { Tensor } from "../../ir/tensor.ts";
import { DTYPE_INFO } from "../../ir/dtype.ts";
import { DEFAULT_PASS_CONTEXT, type PassContext } from "../../passes/pass.ts";
import type { TargetCaps } from "../../targets/caps.ts";
import { C_CAPS } from "../../targets/c.ts";

/** The line between cases. */
export const SEPARATOR = /^\/\/ -----[ \t]*$/m;

export interface Case {
  title: string;
  passes: string[];
  /** The context the passes run with (`// TARGET: c` gives them the C target's capabilities). */
  ctx: PassContext;
  input: string;
  expected: string;
}

/**
 * Targets a golden case may name with `// TARGET:`. `nhwc` is test-only: the C target's
 * capabilities with a channels-last layout preference (what the layout pass acts on).
 */
const TARGETS: Readonly<Record<string, TargetCaps>> = { c: C_CAPS, nhwc: { ...C_CAPS, layout: "nhwc" } };

export function parseCases(file: string, pass: string): Case[] {
  return readFileSync(file, "utf8").split(SEPARATOR).map((chunk, i) => {
    const [input, expected] = chunk.split(/^\/\/ CHECK:[ \t]*$/m);
    if (input === undefined || expected === undefined) throw new Error(`${file}: case ${i + 1} has no '// CHECK:' line`);
    const title = /^\/\/ (Tests that .*)$/m.exec(input)?.[1];
    if (!title) throw new Error(`${file}: case ${i + 1} does not open with '// Tests that …'`);
    const run = /^\/\/ RUN: (.*)$/m.exec(input)?.[1];
    const target = /^\/\/ TARGET: (.*)$/m.exec(input)?.[1]?.trim();
    const caps: TargetCaps | undefined = target === undefined ? undefined : TARGETS[target];
    if (target !== undefined && !caps) throw new Error(`${file}: case ${i + 1} names an unknown target '${target}'`);
    const ctx: PassContext = caps ? { ...DEFAULT_PASS_CONTEXT, target: caps } : DEFAULT_PASS_CONTEXT;
    return { title, passes: run ? run.split(",").map((s) => s.trim()) : [pass], ctx, input, expected: `${expected.trim()}\n` };
  });
}

/** A deterministic pseudo-random number in [0, 1). */
export function random(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Random inputs for a graph, or undefined when some input has no static numeric tensor type. */
export function randomInputs(g: Graph): Tensor[] | undefined {
  const r = random(7);
  const out: Tensor[] = [];
  for (const v of g.inputs) {
    const t = v.type;
    if (t.kind !== "tensor" || !t.shape || !t.shape.every((d): d is number => typeof d === "number")) return undefined;
    const cls = DTYPE_INFO[t.dtype].cls;
    if (cls !== "float" && cls !== "int") return undefined;
    const x = Tensor.zeros(t.dtype, t.shape);
    for (let i = 0; i < x.size; i++) x.data[i] = cls === "float" ? r() * 4 - 2 : Math.floor(r() * 10);
    out.push(x);
  }
  return out;
}

export function readable(g: Graph): boolean {
  return g.constants.every((c) => !c.const || !elidedSummary(c.const));
}

