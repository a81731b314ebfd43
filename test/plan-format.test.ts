/** Tests that codegen/plan-format.ts follows runtime/c/infc_plan.h, the one definition of model.infc. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PLAN, PLAN_DTYPES, PLAN_TARGETS, TENSOR_KINDS, fnv1a64, planSections, writePlan } from "../codegen/plan-format.ts";

const HEADER = readFileSync(join(import.meta.dirname, "..", "runtime", "c", "infc_plan.h"), "utf8");

/** Every `#define NAME <integer>` of the header. */
function defines(): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of HEADER.matchAll(/^#define (INFC_\w+) (\d+)\b/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

function fnvRef(b: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const x of b) h = ((h ^ BigInt(x)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return h;
}

describe("plan format", () => {
  it("has every INFC_PLAN_* constant of infc_plan.h, with the same value, and no others", () => {
    const d = defines();
    const fromHeader = [...d].filter(([k]) => k.startsWith("INFC_PLAN_")).map(([k, v]) => [k.slice("INFC_PLAN_".length), v]);
    expect(fromHeader.length).toBeGreaterThan(40);
    expect(Object.fromEntries(fromHeader)).toEqual({ ...PLAN });
    expect(HEADER).toMatch(/#define INFC_PLAN_MAGIC "INFC"/);
  });

  it("has the header's target, tensor kind and dtype codes", () => {
    const d = defines();
    for (const [k, v] of Object.entries(PLAN_TARGETS)) expect(d.get(`INFC_TARGET_${k}`), k).toBe(v);
    for (const [k, v] of Object.entries(TENSOR_KINDS)) expect(d.get(`INFC_TENSOR_${k}`), k).toBe(v);
    const dtypes = [...d].filter(([k]) => k.startsWith("INFC_DTYPE_")).map(([k, v]) => [k.slice("INFC_DTYPE_".length).toLowerCase(), v]);
    expect(Object.fromEntries(dtypes)).toEqual(PLAN_DTYPES);
  });

  it("computes FNV-1a 64 as the reference definition", () => {
    const rnd = new Uint8Array(4097);
    for (let i = 0; i < rnd.length; i++) rnd[i] = (i * 2654435761) >>> 24;
    for (const b of [new Uint8Array(0), new TextEncoder().encode("a"), new TextEncoder().encode("foobar"), rnd, new Uint8Array(300).fill(255)]) {
      expect(fnv1a64(b)).toBe(fnvRef(b));
    }
    expect(fnv1a64(new TextEncoder().encode("a"))).toBe(0xaf63dc4c8601ec8cn); // published test vector
  });

  it("lays out sections as the header says: plan after the header, weights 64-byte aligned, checksums over each", () => {
    const weights = new Uint8Array([1, 2, 3, 4, 5]);
    const bytes = writePlan({
      target: PLAN_TARGETS.C, arenaBytes: 128, preparedBytes: 0, kernelCount: 1, kernelsId: 0x1234n,
      tensors: [
        { name: "x", kind: "INPUT", dtype: 1, shape: [2], bytes: 8, offset: 0 },
        { name: "w", kind: "CONST", dtype: 2, shape: [5], bytes: 5, offset: 0 },
        { name: "y", kind: "OUTPUT", dtype: 1, shape: [2], bytes: 8, offset: 0 },
      ],
      steps: [{ kernel: 0, tasks: 2, args: [0, 1, 2] }],
      inputs: [0], outputs: [2], weights,
    });
    const dv = new DataView(bytes.buffer);
    const u64 = (o: number): number => Number(dv.getBigUint64(o, true));
    expect(new TextDecoder().decode(bytes.subarray(0, 4))).toBe("INFC");
    expect(dv.getUint32(PLAN.H_VERSION, true)).toBe(PLAN.VERSION);
    expect(u64(PLAN.H_FILE_SIZE)).toBe(bytes.length);
    expect(u64(PLAN.H_PLAN_OFFSET)).toBe(PLAN.HEADER_SIZE);
    const s = planSections(bytes);
    expect(s.weights[0] % PLAN.WEIGHTS_ALIGN).toBe(0);
    expect(s.plan[1]).toBe(s.weights[0]);
    expect([...bytes.subarray(s.weights[0])]).toEqual([...weights]);
    expect(dv.getBigUint64(PLAN.H_PLAN_CHECKSUM, true)).toBe(fnvRef(bytes.subarray(...s.plan)));
    expect(dv.getBigUint64(PLAN.H_WEIGHTS_CHECKSUM, true)).toBe(fnvRef(bytes.subarray(...s.weights)));
    expect(dv.getBigUint64(PLAN.H_HEADER_CHECKSUM, true)).toBe(fnvRef(bytes.subarray(0, PLAN.H_HEADER_CHECKSUM)));
    const t1 = u64(PLAN.H_TENSORS_OFFSET) + PLAN.TENSOR_SIZE;
    expect(bytes[t1 + PLAN.T_KIND]).toBe(TENSOR_KINDS.CONST);
    expect(u64(t1 + PLAN.T_DIMS)).toBe(5);
    const strings = u64(PLAN.H_STRINGS_OFFSET);
    expect(bytes[strings + u64(PLAN.H_STRINGS_SIZE) - 1]).toBe(0);
  });
});
