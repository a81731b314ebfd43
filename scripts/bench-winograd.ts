/**
 * Winograd F(4×4, 3×3) against im2col + SGEMM on single 3×3 convs (Conv + bias + Relu, the ResNet
 * and SqueezeNet shapes): each case is compiled twice as a C artifact (-O3 -march=native), with
 * INFC_WINOGRAD=0 and =force, and profiled step by step with the runner (`infc bench --profile`);
 * prints the im2col time, the Winograd time split into its steps (input, weights, gemm, output;
 * or input, weights+gemm, output where the weight transform is fused), and the speedup.
 *
 *   npx tsx scripts/bench-winograd.ts [filter...]      (env: THREADS=1, ITERS=30)
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileArtifact, profileArtifact } from "../targets/c.ts";
import { encodeModel, f32Bytes, FLOAT } from "../test/helpers/onnx-writer.ts";

interface Shape {
  name: string;
  n?: number;
  c: number;
  m: number;
  h: number;
  w: number;
}

const CASES: Shape[] = [
  { name: "r18_l1_64x56", c: 64, m: 64, h: 56, w: 56 },
  { name: "r18_l2_128x28", c: 128, m: 128, h: 28, w: 28 },
  { name: "r18_l3_256x14", c: 256, m: 256, h: 14, w: 14 },
  { name: "r18_l4_512x7", c: 512, m: 512, h: 7, w: 7 },
  { name: "sq_16to64x55", c: 16, m: 64, h: 55, w: 55 },
  { name: "sq_32to128x27", c: 32, m: 128, h: 27, w: 27 },
  { name: "sq_48to192x13", c: 48, m: 192, h: 13, w: 13 },
  { name: "sq_64to256x13", c: 64, m: 256, h: 13, w: 13 },
  { name: "r18_l1_b4_64x56", n: 4, c: 64, m: 64, h: 56, w: 56 },
  { name: "r18_l4_b8_512x7", n: 8, c: 512, m: 512, h: 7, w: 7 },
  { name: "small_32x14", c: 32, m: 32, h: 14, w: 14 },
  { name: "small_16x28", c: 16, m: 16, h: 28, w: 28 },
  { name: "thin_8to32x56", c: 8, m: 32, h: 56, w: 56 },
  { name: "thin_3to64x224", c: 3, m: 64, h: 224, w: 224 },
  { name: "wide_64x112", c: 64, m: 64, h: 112, w: 112 },
];

let seed = 99;
function values(n: number, scale: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    out.push((seed / 0x7fffffff - 0.5) * 2 * scale);
  }
  return out;
}

function model(s: Shape): Uint8Array {
  const n = s.n ?? 1;
  return encodeModel({
    opset: 17,
    graph: {
      name: s.name,
      nodes: [
        { op: "Conv", inputs: ["x", "w", "b"], outputs: ["y"], attrs: [{ name: "pads", ints: [1, 1, 1, 1] }, { name: "kernel_shape", ints: [3, 3] }] },
        { op: "Relu", inputs: ["y"], outputs: ["z"] },
      ],
      inputs: [{ name: "x", elemType: FLOAT, dims: [n, s.c, s.h, s.w] }],
      outputs: [{ name: "z", elemType: FLOAT, dims: [n, s.m, s.h, s.w] }],
      initializers: [
        { name: "w", dataType: FLOAT, dims: [s.m, s.c, 3, 3], raw: f32Bytes(values(s.m * s.c * 9, Math.sqrt(3 / (9 * s.c)))) },
        { name: "b", dataType: FLOAT, dims: [s.m], raw: f32Bytes(values(s.m, 0.1)) },
      ],
    },
  });
}

/** Per-step microseconds of the case compiled with INFC_WINOGRAD=mode. */
function profile(file: string, dir: string, mode: string, threads: number, iters: number): number[] {
  const saved = process.env.INFC_WINOGRAD;
  process.env.INFC_WINOGRAD = mode;
  try {
    compileArtifact(file, dir, { cpu: "native" });
  } finally {
    if (saved === undefined) delete process.env.INFC_WINOGRAD;
    else process.env.INFC_WINOGRAD = saved;
  }
  return profileArtifact(dir, { threads, iters }).steps.map((st) => st.us);
}

function main(): void {
  const filter = process.argv.slice(2);
  const threads = Number(process.env.THREADS ?? 1);
  const iters = Number(process.env.ITERS ?? 30);
  const tmp = mkdtempSync(join(tmpdir(), "infc-wino-"));
  console.log(`threads ${threads}, median of ${iters}; times in us`);
  console.log("case                 im2col   winograd = input + gemm + output (constant weights: transformed once per load, not timed)   speedup");
  try {
    for (const s of CASES) {
      if (filter.length && !filter.some((f) => s.name.includes(f))) continue;
      const file = join(tmp, `${s.name}.onnx`);
      writeFileSync(file, model(s));
      const base = profile(file, join(tmp, `${s.name}-im2col`), "0", threads, iters);
      const wino = profile(file, join(tmp, `${s.name}-wino`), "force", threads, iters);
      const tb = base.reduce((a, b) => a + b, 0);
      const tw = wino.reduce((a, b) => a + b, 0);
      const parts = wino.length === 3 ? wino.map((u) => u.toFixed(0).padStart(6)).join(" + ") : `(${wino.length} steps: not Winograd)`;
      console.log(`${s.name.padEnd(18)} ${tb.toFixed(0).padStart(8)}   ${tw.toFixed(0).padStart(8)} = ${parts}   ${(tb / tw).toFixed(2).padStart(5)}x`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main();
