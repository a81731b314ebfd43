/** The `infc compile`, `infc run <artifact>` and `infc bench` commands. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readNpy, writeNpy } from "../frontend/npy.ts";
import { Tensor } from "../ir/tensor.ts";

const ROOT = join(import.meta.dirname, "..");
const DIGITS = join(ROOT, "test", "data", "digits_cnn.onnx");

function infc(...args: string[]): { code: number; out: string; err: string } {
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "infc.js"), ...args], { encoding: "utf8", cwd: ROOT });
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

describe("infc compile / run / bench", () => {
  it("tests that compile prints a summary, run matches the interpreter's output, bench prints a median", () => {
    const tmp = mkdtempSync(join(tmpdir(), "infc-cli-c-"));
    const art = join(tmp, "art");
    const c = infc("compile", DIGITS, "--target", "c", "-o", art, "-O3", "--dims", "batch=1");
    expect(c.code, c.err).toBe(0);
    expect(c.out).toMatch(/kernels\s+\d+\s+steps \d+/);
    expect(c.out).toMatch(/arena\s+[\d.]+ KiB \(1\.0\d\dx\)\s+lower bound [\d.]+ KiB\s+no reuse [\d.]+ KiB/);
    expect(c.out).toMatch(/files\s+model\.infc model\.c/);
    const manifest = JSON.parse(readFileSync(join(art, "manifest.json"), "utf8"));
    expect(manifest.flags).toEqual({ dims: { batch: 1 }, level: "O3" });
    expect(manifest.cpu).toBe("native");

    const x = Tensor.fromArray("f32", [1, 1, 8, 8], Float32Array.from({ length: 64 }, (_, i) => (i % 7) / 7));
    writeFileSync(join(tmp, "x.npy"), writeNpy(x));
    const r = infc("run", art, "--input", `image=${join(tmp, "x.npy")}`, "--output-dir", join(tmp, "c"), "--threads", "2");
    expect(r.code, r.err).toBe(0);
    const i = infc("run", DIGITS, "--input", `image=${join(tmp, "x.npy")}`, "--output-dir", join(tmp, "i"));
    expect(i.code, i.err).toBe(0);
    const got = readNpy(readFileSync(join(tmp, "c", "logits.npy"))).data;
    const want = readNpy(readFileSync(join(tmp, "i", "logits.npy"))).data;
    expect(got.length).toBe(10);
    got.forEach((v, k) => expect(Math.abs(v - want[k]!)).toBeLessThan(1e-4 * (1 + Math.abs(want[k]!))));

    const b = infc("bench", art, "--iters", "5", "--threads", "2");
    expect(b.code, b.err).toBe(0);
    expect(b.out).toMatch(/^median [\d.]+ ms\s+min [\d.]+ ms\s+iters 5\s+threads 2/);

    // --profile: one timed line per step among the slowest, then a per-op table covering every step
    const p = infc("bench", art, "--iters", "3", "--profile", "--top", "100");
    expect(p.code, p.err).toBe(0);
    const all = manifest.stepInfo as { op: string; node: string; prepare?: boolean }[];
    expect(all.length).toBe(manifest.steps);
    const steps = all.filter((s) => !s.prepare); // prepare steps run once per load and are not timed
    const prep = all.length - steps.length;
    expect(p.out).toMatch(new RegExp(`^sum of steps [\\d.]+ ms over ${steps.length} steps${prep ? ` \\(and ${prep} prepare steps` : ","}`));
    const listed = p.out.split("\n").filter((l) => /^\s+\d+\s+[\d.]+ us/.test(l));
    expect(listed.length).toBe(steps.length);
    for (const op of new Set(steps.map((s) => s.op))) expect(p.out).toMatch(new RegExp(`^  ${op}\\s+\\d+ steps`, "m"));

    const bad = infc("compile", DIGITS, "-o", join(tmp, "x"));
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/dynamic shape[\s\S]*--dims/);
  }, 60_000);
});
