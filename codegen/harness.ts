/**
 * A self-contained test harness for a lowered Program: a C main() that allocates every buffer,
 * loads constants from a weights file, reads raw inputs, runs the prepare steps once and the
 * other steps serially (one call with the whole task range), and writes raw outputs. It checks
 * kernels without the runtime or the plan format; the conformance runner uses it for `--target c`.
 */
import type { Program } from "./lower.ts";
import { rootOf } from "./lower.ts";

export interface HarnessFiles {
  /** C source of main(). */
  main: string;
  /** Concatenated constant bytes, in the order main() reads them. */
  weights: Uint8Array;
}

export interface HarnessOptions {
  /** Run each task of each step alone, in reverse order (checks kernels' task independence). */
  splitTasks?: boolean;
}

export function harness(p: Program, opts: HarnessOptions = {}): HarnessFiles {
  const call = (s: Program["steps"][number]): string => {
    const a = `void* a[] = {${s.args.map((id) => `b[${id}]`).join(", ") || "0"}};`;
    // split mode calls every task alone, last first: a kernel that depends on how [0, tasks) is cut fails
    return opts.splitTasks
      ? `  { ${a} for (int64_t q = ${s.tasks} - 1; q >= 0; q--) infc_model_kernels[${s.kernel}](a, q, q + 1); }`
      : `  { ${a} infc_model_kernels[${s.kernel}](a, 0, ${s.tasks}); }`;
  };
  const roots = p.buffers.filter((b) => !b.base);
  const chunks: Uint8Array[] = [];
  const lines: string[] = [
    "#define _POSIX_C_SOURCE 199309L",
    "#include <stdio.h>",
    "#include <stdlib.h>",
    "#include <string.h>",
    "#include <time.h>",
    '#include "infc_kernel.h"',
    "",
    "static double now_ms(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec * 1e-6; }",
    "static double cpu_ms(void) { struct timespec t; clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); return t.tv_sec * 1e3 + t.tv_nsec * 1e-6; }",
    "static int cmp_double(const void* a, const void* b) { double x = *(const double*)a, y = *(const double*)b; return x < y ? -1 : x > y; }",
    "",
    "static int read_file(const char* path, void* dst, size_t n) {",
    '  FILE* f = fopen(path, "rb"); if (!f) { fprintf(stderr, "cannot open %s\\n", path); return 1; }',
    "  size_t k = n ? fread(dst, 1, n, f) : 0; int extra = fgetc(f) != EOF; fclose(f);",
    '  if (k != n || extra) { fprintf(stderr, "%s: expected %zu bytes\\n", path, n); return 1; }',
    "  return 0;",
    "}",
    "",
    "static void prepare_steps(void** b) {",
    "  (void)b;",
    ...p.steps.filter((s) => s.prepare).map(call),
    "}",
    "",
    "static void run_steps(void** b) {",
    "  (void)b;",
    ...p.steps.filter((s) => !s.prepare).map(call),
    "}",
    "",
    "int main(int argc, char** argv) {",
    `  if (argc != ${2 + p.inputs.length + p.outputs.length}) { fprintf(stderr, "usage: run weights inputs... outputs...\\n"); return 2; }`,
    `  static void* b[${Math.max(1, p.buffers.length)}];`,
  ];
  for (const b of roots) lines.push(`  b[${b.id}] = calloc(${Math.max(1, b.bytes)}, 1); if (!b[${b.id}]) return 3;`);
  for (const b of p.buffers) if (b.base) lines.push(`  b[${b.id}] = b[${rootOf(b).id}];`);
  lines.push('  FILE* w = fopen(argv[1], "rb"); if (!w) return 4;');
  for (const b of roots) {
    if (!b.const) continue;
    const raw = b.const.raw();
    chunks.push(raw);
    lines.push(`  if (fread(b[${b.id}], 1, ${raw.byteLength}, w) != ${raw.byteLength}) return 5;`);
  }
  lines.push("  fclose(w);");
  p.inputs.forEach((id, i) => lines.push(`  if (read_file(argv[${2 + i}], b[${id}], ${p.buffers[id]!.bytes})) return 6;`));
  lines.push(
    "  prepare_steps(b);",
    "  run_steps(b);",
    '  { const char* e = getenv("INFC_BENCH"); int n = e ? atoi(e) : 0;',
    "    if (n > 0) { double* t = (double*)malloc(sizeof(double) * 2 * (size_t)n); if (!t) return 3;",
    "      for (int i = 0; i < n; i++) { double t0 = now_ms(), c0 = cpu_ms(); run_steps(b); t[i] = now_ms() - t0; t[n + i] = cpu_ms() - c0; }",
    "      qsort(t, (size_t)n, sizeof(double), cmp_double); qsort(t + n, (size_t)n, sizeof(double), cmp_double);",
    '      fprintf(stderr, "infc-bench-ms %.4f min %.4f cpu %.4f\\n", t[n / 2], t[0], t[n + n / 2]); free(t); } }',
  );
  p.outputs.forEach((id, i) => {
    const n = 2 + p.inputs.length + i;
    lines.push(`  { FILE* f = fopen(argv[${n}], "wb"); if (!f) return 7; fwrite(b[${id}], 1, ${p.buffers[id]!.bytes}, f); fclose(f); }`);
  });
  lines.push("  return 0;", "}", "");
  const total = chunks.reduce((n, c) => n + c.byteLength, 0);
  const weights = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    weights.set(c, off);
    off += c.byteLength;
  }
  return { main: lines.join("\n"), weights };
}
