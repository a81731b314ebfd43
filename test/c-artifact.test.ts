/**
 * The C artifact end to end: compile (codegen/artifact.ts, targets/c.ts), build with the host cc,
 * run under the runner (runtime/c/infc_main.c) and compare with the reference interpreter; the
 * loader's rejection of corrupt files; determinism; hostile names; the runtime's size.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadModel } from "../frontend/load.ts";
import { interpret } from "../ir/interpret.ts";
import { Tensor } from "../ir/tensor.ts";
import { PLAN, fnv1a64, planSections } from "../codegen/plan-format.ts";
import { buildArtifact, compileArtifact, runArtifact } from "../targets/c.ts";
import { encodeModel, f32Bytes, FLOAT } from "./helpers/onnx-writer.ts";

const ROOT = join(import.meta.dirname, "..");
const RUNTIME = join(ROOT, "runtime", "c");
const tmp = mkdtempSync(join(tmpdir(), "infc-art-"));

/** x[2,3] → Add(w) → Relu → Add(x) → y, with node and tensor names given by `name`. */
function smallModel(path: string, name: (s: string) => string = (s) => s): void {
  writeFileSync(path, encodeModel({
    graph: {
      name: name("graph"),
      nodes: [
        { op: "Add", inputs: [name("x"), name("w")], outputs: [name("a")], name: name("add1") },
        { op: "Relu", inputs: [name("a")], outputs: [name("r")], name: name("relu") },
        { op: "Add", inputs: [name("r"), name("x")], outputs: [name("y")], name: name("add2") },
      ],
      inputs: [{ name: name("x"), elemType: FLOAT, dims: [2, 3] }],
      outputs: [{ name: name("y"), elemType: FLOAT, dims: [2, 3] }],
      initializers: [{ name: name("w"), dataType: FLOAT, dims: [3], raw: f32Bytes([1, -2, 3]) }],
    },
  }));
}

const X = new Float32Array([1, 2, 3, -4, -5, -6]);
const bytesOf = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const f32 = (b: Uint8Array): number[] => [...new Float32Array(b.slice().buffer)];

function interp(modelPath: string, inputs: Tensor[], dims: Record<string, number> = {}): number[][] {
  const m = loadModel(modelPath);
  for (const v of m.graph.inputs) {
    if (v.type.kind === "tensor" && v.type.shape) v.type = { ...v.type, shape: v.type.shape.map((d) => (typeof d === "string" ? dims[d] ?? d : d)) };
  }
  return interpret(m.graph, inputs).map((t) => Array.from((t as Tensor).data));
}

const small = join(tmp, "small.onnx");
smallModel(small);
const smallDir = join(tmp, "small");
// -O1: three kernels with arena tensors between them (at -O2 the chain is one FusedElementwise)
compileArtifact(small, smallDir, { level: "O1" });

function runner(args: string[]): { code: number; err: string; out: string } {
  const exe = buildArtifact(smallDir);
  const r = spawnSync(exe, args, { encoding: "utf8" });
  return { code: r.status ?? -1, err: r.stderr, out: r.stdout };
}

describe("C artifact", () => {
  it("tests that a small model runs and matches the interpreter, serially and on 3 threads", () => {
    const want = interp(small, [Tensor.fromRaw("f32", [2, 3], bytesOf(X).slice())])[0]!;
    expect(want).toEqual([3, 2, 9, -4, -5, -6]);
    for (const threads of [1, 3]) expect(f32(runArtifact(smallDir, [bytesOf(X)], { threads })[0]!)).toEqual(want);
    const files = readdirSync(smallDir).sort();
    expect(files).toEqual([".build", "CMakeLists.txt", "Makefile", "infc.h", "infc_kernel.h", "infc_main.c", "infc_plan.h", "infc_pool.c", "infc_runtime.c", "manifest.json", "model.c", "model.infc"]);
  });

  it("tests that the digits CNN (batch 8) matches the interpreter on 8 threads, with its weight packing in prepare steps and the arena within 5% of the lower bound", async () => {
    const model = join(ROOT, "test", "data", "digits_cnn.onnx");
    const dir = join(tmp, "digits");
    const art = compileArtifact(model, dir, { dims: { batch: 8 } });
    expect(art.memory.arenaBytes / art.memory.lowerBound).toBeLessThanOrEqual(1.05);
    const xs = readFileSync(join(ROOT, "test", "data", "digits_test_x.npy"));
    const x = new Float32Array(new Uint8Array(xs.subarray(xs.length - 397 * 64 * 4)).slice().buffer).subarray(64 * 5, 64 * 13);
    const want = interp(model, [Tensor.fromRaw("f32", [8, 1, 8, 8], bytesOf(x).slice())], { batch: 8 })[0]!;
    buildArtifact(dir);
    await new Promise((res) => setImmediate(res)); // let vitest's worker talk after the long build
    const got = f32(runArtifact(dir, [bytesOf(x)], { threads: 8 })[0]!);
    expect(got.length).toBe(80);
    got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(want[i]!))));
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    expect(manifest.arena.bytes).toBe(art.memory.arenaBytes);
    expect(manifest.inputs[0]).toEqual({ bytes: 2048, dtype: "f32", name: "image", shape: [8, 1, 8, 8] });
    // constant weights are prepared once per load, by the plan's first steps: the second conv's
    // Winograd weight transform and the two FusedMatMuls' packing
    const prep = manifest.stepInfo.filter((st: { prepare?: boolean }) => st.prepare);
    expect(prep.map((st: { op: string }) => st.op)).toEqual(["FusedConv", "FusedMatMul", "FusedMatMul"]);
    expect(manifest.stepInfo.slice(0, 3)).toEqual(prep);
    expect(art.preparedBytes).toBeGreaterThanOrEqual((512 * 64 + 64 * 10) * 4);
    expect(manifest.preparedBytes).toBe(art.preparedBytes);
  });

  it("tests that compiling twice gives byte-identical files", () => {
    const again = join(tmp, "again");
    compileArtifact(small, again, { level: "O1" });
    for (const f of readdirSync(smallDir).filter((f) => f !== ".build")) {
      expect(readFileSync(join(again, f)).equals(readFileSync(join(smallDir, f))), f).toBe(true);
    }
  });

  it("tests that hostile node/tensor names reach C only escaped, and the artifact runs", () => {
    const path = join(tmp, "hostile.onnx");
    const evil = (s: string): string => `${s} */ "q" \\ ??= \n é 🙂 /* #define`;
    smallModel(path, evil);
    const dir = join(tmp, "hostile");
    compileArtifact(path, dir);
    const src = readFileSync(join(dir, "model.c"), "utf8");
    expect(src).not.toMatch(/[^\x00-\x7f]/);
    // a syntax check with every warning that could reveal a broken comment or string
    execFileSync("cc", ["-std=c99", "-fsyntax-only", "-Wall", "-Werror=comment", "-Werror=trigraphs", "-I", RUNTIME, join(dir, "model.c")]);
    expect(f32(runArtifact(dir, [bytesOf(X)])[0]!)).toEqual([3, 2, 9, -4, -5, -6]);
    const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
    expect(manifest.inputs[0].name).toBe(evil("x"));
  });

  it("tests that a flipped byte anywhere and truncation are rejected by the runner with a named error", () => {
    const good = readFileSync(join(smallDir, "model.infc"));
    const s = planSections(good);
    const dir = join(tmp, "corrupt");
    mkdirSync(dir, { recursive: true });
    const inp = join(dir, "x.bin");
    writeFileSync(inp, bytesOf(X));
    const cases: [string, Uint8Array, RegExp][] = [];
    const flip = (at: number): Uint8Array => {
      const b = new Uint8Array(good);
      b[at]! ^= 0x5a;
      return b;
    };
    for (const at of [0, 3]) cases.push([`flip ${at}`, flip(at), /bad magic/]);
    for (const at of [4, 9]) cases.push([`flip ${at}`, flip(at), /unsupported format version/]);
    for (const at of [12, 16, 30, 44, 100, 160, 167, 170]) cases.push([`flip ${at}`, flip(at), /header checksum/]);
    for (const at of [s.plan[0], s.plan[0] + 5, s.plan[0] + 90, s.plan[1] - 1]) cases.push([`flip ${at}`, flip(at), /plan checksum/]);
    for (const at of [s.weights[0], s.weights[1] - 1]) cases.push([`flip ${at}`, flip(at), /weights checksum/]);
    for (const n of [0, 2, 100, PLAN.HEADER_SIZE, s.plan[0] + 1, s.weights[0], good.length - 1]) cases.push([`truncate ${n}`, good.subarray(0, n), n < 4 || n >= PLAN.HEADER_SIZE ? /truncated/ : /truncated/]);
    cases.push(["trailing byte", new Uint8Array([...good, 0]), /bad layout/]);
    cases.forEach(([what, bytes, msg], i) => {
      const f = join(dir, `c${i}.infc`);
      writeFileSync(f, bytes);
      const r = runner([f, inp, "--out", join(dir, "y.bin")]);
      expect(r.code, what).toBe(1);
      expect(r.err, what).toMatch(/cannot load/);
      expect(r.err, what).toMatch(msg);
    });
    expect(existsSync(join(dir, "y.bin"))).toBe(false);
    const ok = runner([join(smallDir, "model.infc"), inp, "--out", join(dir, "y.bin")]);
    expect(ok.code, ok.err).toBe(0);
    const wrongSize = runner([join(smallDir, "model.infc"), join(smallDir, "model.infc"), "--out", join(dir, "y.bin")]);
    expect(wrongSize.code).toBe(1);
    expect(wrongSize.err).toMatch(/expected 24 bytes/);
  });

  it("tests that semantic corruption with valid checksums is caught (the checks behind the checksums)", () => {
    const good = readFileSync(join(smallDir, "model.infc"));
    const dv0 = new DataView(good.buffer, good.byteOffset, good.byteLength);
    const at = (o: number): number => Number(dv0.getBigUint64(o, true));
    const patch = (f: (dv: DataView, b: Uint8Array) => void): Uint8Array => {
      const b = new Uint8Array(good);
      const dv = new DataView(b.buffer);
      f(dv, b);
      const s = planSections(good);
      dv.setBigUint64(PLAN.H_PLAN_CHECKSUM, fnv1a64(b.subarray(...s.plan)), true);
      dv.setBigUint64(PLAN.H_HEADER_CHECKSUM, fnv1a64(b.subarray(0, PLAN.H_HEADER_CHECKSUM)), true);
      return b;
    };
    const t0 = at(PLAN.H_TENSORS_OFFSET);
    const tensorCount = dv0.getUint32(PLAN.H_TENSOR_COUNT, true);
    const arenaT = [...Array(tensorCount).keys()].map((i) => t0 + i * PLAN.TENSOR_SIZE).find((o) => good[o + PLAN.T_KIND] === 3);
    if (arenaT === undefined) throw new Error("the small model's plan has no arena tensor to corrupt");
    const step0 = at(PLAN.H_STEPS_OFFSET);
    const cases: [string, Uint8Array, RegExp][] = [
      ["arena tensor past the arena", patch((dv) => dv.setBigUint64(arenaT + PLAN.T_OFFSET, BigInt(at(PLAN.H_ARENA_SIZE)), true)), /bad tensor/],
      ["dims disagree with bytes", patch((dv) => dv.setBigUint64(arenaT + PLAN.T_DIMS, 3n, true)), /bad tensor/],
      ["rank 9", patch((_, b) => (b[arenaT + PLAN.T_RANK] = 9)), /bad tensor/],
      ["name outside the string table", patch((dv) => dv.setUint32(arenaT + PLAN.T_NAME, 1 << 30, true)), /bad tensor/],
      ["kernel index out of range", patch((dv) => dv.setUint32(step0 + PLAN.S_KERNEL, 99, true)), /bad step/],
      ["zero tasks", patch((dv) => dv.setBigUint64(step0 + PLAN.S_TASKS, 0n, true)), /bad step/],
      ["arg id out of range", patch((dv) => dv.setUint32(at(PLAN.H_ARGS_OFFSET), tensorCount, true)), /bad step/],
      ["absurd tensor count", patch((dv) => dv.setUint32(PLAN.H_TENSOR_COUNT, 0xffffffff, true)), /bad layout/],
      ["table past the plan", patch((dv) => dv.setBigUint64(PLAN.H_STEPS_OFFSET, BigInt(at(PLAN.H_WEIGHTS_OFFSET)), true)), /bad layout/],
      ["string table without NUL", patch((_, b) => (b[at(PLAN.H_STRINGS_OFFSET) + at(PLAN.H_STRINGS_SIZE) - 1] = 65)), /bad layout/],
      ["input listed as output", patch((dv) => dv.setUint32(at(PLAN.H_IO_OFFSET) + 4, dv.getUint32(at(PLAN.H_IO_OFFSET), true), true)), /input\/output list/],
      ["other kernels", patch((dv) => dv.setBigUint64(PLAN.H_KERNELS_ID, 1n, true)), /does not match the linked kernels/],
      ["other target", patch((dv) => dv.setUint32(PLAN.H_TARGET, 7, true)), /another target/],
      ["unknown step flag", patch((dv) => dv.setUint32(step0 + PLAN.S_FLAGS, 2, true)), /bad step/],
      ["a step on run buffers flagged prepare", patch((dv) => dv.setUint32(step0 + PLAN.S_FLAGS, 1, true)), /bad step/],
      ["prepared size not a multiple of 64", patch((dv) => dv.setBigUint64(PLAN.H_PREPARED_SIZE, 100n, true)), /bad layout/],
      ["prepared size beyond the limit", patch((dv) => dv.setBigUint64(PLAN.H_PREPARED_SIZE, BigInt(PLAN.PREPARED_FACTOR * 64 + PLAN.PREPARED_SLACK + 64) << 8n, true)), /bad layout/],
    ];
    const dir = join(tmp, "semantic");
    mkdirSync(dir, { recursive: true });
    cases.forEach(([what, bytes, msg], i) => {
      const f = join(dir, `s${i}.infc`);
      writeFileSync(f, bytes);
      const r = runner([f, "--bench", "1"]);
      expect(r.code, what).toBe(1);
      expect(r.err, what).toMatch(msg);
    });
  });

  it("tests under ASan/UBSan that every byte flip, every truncation and 20000 re-checksummed mutations load or fail cleanly", () => {
    const exe = join(tmp, "load_fuzz");
    execFileSync("cc", ["-std=c11", "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-I", RUNTIME, "-o", exe,
      join(ROOT, "test", "c", "load_fuzz.c"), join(smallDir, "model.c"), join(RUNTIME, "infc_runtime.c"), join(RUNTIME, "infc_pool.c"), "-lm", "-lpthread"]);
    const r = spawnSync(exe, [join(smallDir, "model.infc"), "20000"], { encoding: "utf8", env: { ...process.env, ASAN_OPTIONS: "detect_leaks=1" } });
    expect(r.stderr).toBe("");
    expect(r.status, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^ok \d+ \d+ 20000 \d+/);
  });

  it("tests that the runtime core (infc_runtime.c + infc_pool.c) is at most 16 KB of .text at -Os", () => {
    let text = 0;
    for (const f of ["infc_runtime.c", "infc_pool.c"]) {
      const o = join(tmp, `${f}.o`);
      execFileSync("cc", ["-std=c99", "-Os", "-Wall", "-Wextra", "-pedantic", "-Werror", "-c", join(RUNTIME, f), "-o", o]);
      const out = execFileSync("size", [o], { encoding: "utf8" });
      text += Number(out.trim().split("\n")[1]!.trim().split(/\s+/)[0]);
    }
    expect(text).toBeGreaterThan(1000);
    expect(text).toBeLessThanOrEqual(16 * 1024);
  });

  it("tests that a failed compile leaves an existing artifact intact and no temporary directory", () => {
    const dyn = join(tmp, "dyn.onnx");
    writeFileSync(dyn, encodeModel({ graph: { nodes: [{ op: "Relu", inputs: ["x"], outputs: ["y"] }], inputs: [{ name: "x", elemType: FLOAT, dims: ["n"] }], outputs: [{ name: "y", elemType: FLOAT, dims: ["n"] }] } }));
    const dir = join(tmp, "keep");
    compileArtifact(small, dir);
    const before = readFileSync(join(dir, "manifest.json"));
    expect(() => compileArtifact(dyn, dir)).toThrow(/dynamic shape/);
    expect(readFileSync(join(dir, "manifest.json")).equals(before)).toBe(true);
    expect(readdirSync(tmp).filter((f) => f.includes(".infc-"))).toEqual([]);
    const foreign = join(tmp, "foreign");
    mkdirSync(foreign);
    writeFileSync(join(foreign, "notes.txt"), "mine");
    expect(() => compileArtifact(small, foreign)).toThrow(/not an infc artifact/);
  });
});
