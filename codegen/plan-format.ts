/**
 * The writer of model.infc, the plan + weights file. The format is defined by
 * runtime/c/infc_plan.h — that header is the one source of truth, and this file follows it exactly:
 * every constant in `PLAN` carries the name of the header's `#define` (INFC_PLAN_H_VERSION is
 * `PLAN.H_VERSION`), and test/plan-format.test.ts checks that the two agree. Change the header
 * first, then this file.
 */
import type { DType } from "../ir/dtype.ts";

/** The constants of infc_plan.h, named as there without the `INFC_PLAN_` prefix. */
export const PLAN = {
  VERSION: 2,
  HEADER_SIZE: 176,
  WEIGHTS_ALIGN: 64,
  ARENA_ALIGN: 64,
  MAX_RANK: 8,
  H_MAGIC: 0,
  H_VERSION: 4,
  H_HEADER_SIZE: 8,
  H_TARGET: 12,
  H_FILE_SIZE: 16,
  H_ARENA_SIZE: 24,
  H_KERNELS_ID: 32,
  H_KERNEL_COUNT: 40,
  H_TENSOR_COUNT: 44,
  H_STEP_COUNT: 48,
  H_ARG_COUNT: 52,
  H_INPUT_COUNT: 56,
  H_OUTPUT_COUNT: 60,
  H_PLAN_OFFSET: 64,
  H_PLAN_SIZE: 72,
  H_WEIGHTS_OFFSET: 80,
  H_WEIGHTS_SIZE: 88,
  H_TENSORS_OFFSET: 96,
  H_STEPS_OFFSET: 104,
  H_ARGS_OFFSET: 112,
  H_IO_OFFSET: 120,
  H_STRINGS_OFFSET: 128,
  H_STRINGS_SIZE: 136,
  H_PLAN_CHECKSUM: 144,
  H_WEIGHTS_CHECKSUM: 152,
  H_PREPARED_SIZE: 160,
  H_HEADER_CHECKSUM: 168,
  TENSOR_SIZE: 88,
  T_KIND: 0,
  T_DTYPE: 1,
  T_RANK: 2,
  T_RESERVED: 3,
  T_NAME: 4,
  T_OFFSET: 8,
  T_BYTES: 16,
  T_DIMS: 24,
  STEP_SIZE: 24,
  S_KERNEL: 0,
  S_ARG_BEGIN: 4,
  S_ARG_COUNT: 8,
  S_FLAGS: 12,
  S_TASKS: 16,
  MAX_TENSORS: 16777216,
  MAX_STEPS: 16777216,
  MAX_ARGS: 67108864,
  MAX_KERNELS: 1048576,
  MAX_IO: 65536,
  MAX_DIM: 1099511627776,
  MAX_TASKS: 281474976710656,
  PREPARED_FACTOR: 8,
  PREPARED_SLACK: 67108864,
} as const;

/** `INFC_TARGET_*` codes. */
export const PLAN_TARGETS = { C: 1 } as const;

/** `INFC_TENSOR_*` kinds. */
export const TENSOR_KINDS = { INPUT: 0, OUTPUT: 1, CONST: 2, ARENA: 3, PREPARED: 4 } as const;

/** `INFC_STEP_*` flag bits. */
export const STEP_FLAGS = { PREPARE: 1 } as const;
export type PlanTensorKind = keyof typeof TENSOR_KINDS;

/** `INFC_DTYPE_*` codes: ONNX TensorProto numbers, block types from 64. Never renumbered. */
export const PLAN_DTYPES: Partial<Record<DType, number>> = {
  f32: 1, u8: 2, i8: 3, u16: 4, i16: 5, i32: 6, i64: 7, bool: 9, f16: 10, f64: 11, u32: 12, u64: 13, bf16: 16,
  f8e4m3fn: 17, f8e4m3fnuz: 18, f8e5m2: 19, f8e5m2fnuz: 20, u4: 21, i4: 22,
  q4_0: 64, q4_1: 65, q8_0: 66, q4_k: 67, q6_k: 68,
};

/** The plan's dtype code of an IR dtype (throws for dtypes the format cannot hold). */
export function planDType(dt: DType): number {
  const code = PLAN_DTYPES[dt];
  if (code === undefined) throw new PlanFormatError(`dtype ${dt} cannot be stored in a plan (format version ${PLAN.VERSION})`);
  return code;
}

export class PlanFormatError extends Error {
  override name = "PlanFormatError";
}

export interface PlanTensor {
  readonly name: string;
  readonly kind: PlanTensorKind;
  readonly dtype: number;
  readonly shape: readonly number[];
  readonly bytes: number;
  /** Arena offset (ARENA), weights-section offset (CONST) or prepared-block offset (PREPARED); 0 for INPUT/OUTPUT. */
  readonly offset: number;
}

export interface PlanStep {
  readonly kernel: number;
  readonly tasks: number;
  /** Tensor ids, in the kernel's argument order. */
  readonly args: readonly number[];
  /** Runs once per loaded model (INFC_STEP_PREPARE); such steps come first. */
  readonly prepare?: boolean;
}

export interface PlanInput {
  readonly target: number;
  readonly arenaBytes: number;
  /** Bytes of the PREPARED block (multiple of 64). */
  readonly preparedBytes: number;
  readonly kernelCount: number;
  /** FNV-1a 64 of the kernel source. */
  readonly kernelsId: bigint;
  readonly tensors: readonly PlanTensor[];
  readonly steps: readonly PlanStep[];
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  /** The weights section's bytes (CONST offsets point into it). */
  readonly weights: Uint8Array;
}

const FNV_OFFSET_HI = 0xcbf29ce4;
const FNV_OFFSET_LO = 0x84222325;

/**
 * FNV-1a 64 of `bytes`, as in infc_plan.h. Computed on two 32-bit halves (BigInt per byte would be
 * far too slow for weights): prime = 2^40 + 0x1b3, so h * prime = h * 0x1b3 + (lo << 40).
 */
export function fnv1a64(bytes: Uint8Array): bigint {
  let hi = FNV_OFFSET_HI;
  let lo = FNV_OFFSET_LO;
  for (let i = 0; i < bytes.length; i++) {
    lo = (lo ^ bytes[i]!) >>> 0;
    const a = lo * 0x1b3; // < 2^41: exact in a double
    const aLo = a >>> 0;
    const carry = (a - aLo) / 4294967296;
    hi = (Math.imul(hi, 0x1b3) + ((lo << 8) >>> 0) + carry) >>> 0;
    lo = aLo;
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}

const align = (n: number, a: number): number => Math.ceil(n / a) * a;

function checkCount(what: string, n: number, max: number): void {
  if (n > max) throw new PlanFormatError(`${what}: ${n} exceeds the format's limit of ${max}`);
}

/** Serializes a plan into model.infc bytes (deterministic: same input, same bytes). */
export function writePlan(p: PlanInput): Uint8Array {
  checkCount("tensors", p.tensors.length, PLAN.MAX_TENSORS);
  checkCount("steps", p.steps.length, PLAN.MAX_STEPS);
  checkCount("kernels", p.kernelCount, PLAN.MAX_KERNELS);
  checkCount("inputs", p.inputs.length, PLAN.MAX_IO);
  checkCount("outputs", p.outputs.length, PLAN.MAX_IO);
  const argCount = p.steps.reduce((n, s) => n + s.args.length, 0);
  checkCount("kernel arguments", argCount, PLAN.MAX_ARGS);
  const firstRun = p.steps.findIndex((s) => !s.prepare);
  if (firstRun >= 0 && p.steps.slice(firstRun).some((s) => s.prepare)) throw new PlanFormatError("prepare steps must come before every other step");
  if (p.preparedBytes % PLAN.ARENA_ALIGN) throw new PlanFormatError(`prepared block of ${p.preparedBytes} bytes: not a multiple of ${PLAN.ARENA_ALIGN}`);
  if (p.preparedBytes > PLAN.PREPARED_FACTOR * p.weights.length + PLAN.PREPARED_SLACK) {
    throw new PlanFormatError(`prepared block of ${p.preparedBytes} bytes exceeds the format's limit (${PLAN.PREPARED_FACTOR} × ${p.weights.length} weight bytes + ${PLAN.PREPARED_SLACK})`);
  }

  // string table: names deduplicated, in first-use order
  const enc = new TextEncoder();
  const nameOffsets = new Map<string, number>();
  const strChunks: Uint8Array[] = [];
  let strSize = 0;
  const nameOf = (s: string): number => {
    let off = nameOffsets.get(s);
    if (off === undefined) {
      off = strSize;
      nameOffsets.set(s, off);
      const b = enc.encode(s.replace(/\0/g, "\uFFFD")); // a NUL would cut the name short
      strChunks.push(b);
      strSize += b.length + 1;
    }
    return off;
  };
  const names = p.tensors.map((t) => nameOf(t.name));
  if (strSize === 0) strSize = 1; // the table always ends with a NUL

  const tensorsOff = PLAN.HEADER_SIZE;
  const stepsOff = align(tensorsOff + p.tensors.length * PLAN.TENSOR_SIZE, 8);
  const argsOff = stepsOff + p.steps.length * PLAN.STEP_SIZE;
  const ioOff = argsOff + argCount * 4;
  const stringsOff = ioOff + (p.inputs.length + p.outputs.length) * 4;
  const weightsOff = align(stringsOff + strSize, PLAN.WEIGHTS_ALIGN);
  const fileSize = weightsOff + p.weights.length;

  const out = new Uint8Array(fileSize);
  const dv = new DataView(out.buffer);
  const u32 = (o: number, v: number): void => dv.setUint32(o, v, true);
  const u64 = (o: number, v: number | bigint): void => dv.setBigUint64(o, BigInt(v), true);

  p.tensors.forEach((t, i) => {
    const o = tensorsOff + i * PLAN.TENSOR_SIZE;
    if (t.shape.length > PLAN.MAX_RANK) throw new PlanFormatError(`tensor '${t.name}': rank ${t.shape.length} exceeds ${PLAN.MAX_RANK}`);
    out[o + PLAN.T_KIND] = TENSOR_KINDS[t.kind];
    out[o + PLAN.T_DTYPE] = t.dtype;
    out[o + PLAN.T_RANK] = t.shape.length;
    u32(o + PLAN.T_NAME, names[i]!);
    u64(o + PLAN.T_OFFSET, t.offset);
    u64(o + PLAN.T_BYTES, t.bytes);
    t.shape.forEach((d, k) => u64(o + PLAN.T_DIMS + 8 * k, d));
  });
  let arg = 0;
  p.steps.forEach((s, i) => {
    const o = stepsOff + i * PLAN.STEP_SIZE;
    u32(o + PLAN.S_KERNEL, s.kernel);
    u32(o + PLAN.S_ARG_BEGIN, arg);
    u32(o + PLAN.S_ARG_COUNT, s.args.length);
    u32(o + PLAN.S_FLAGS, s.prepare ? STEP_FLAGS.PREPARE : 0);
    u64(o + PLAN.S_TASKS, s.tasks);
    for (const a of s.args) u32(argsOff + 4 * arg++, a);
  });
  [...p.inputs, ...p.outputs].forEach((id, i) => u32(ioOff + 4 * i, id));
  let so = stringsOff;
  for (const c of strChunks) {
    out.set(c, so);
    so += c.length + 1;
  }
  out.set(p.weights, weightsOff);

  out.set(enc.encode("INFC"), PLAN.H_MAGIC);
  u32(PLAN.H_VERSION, PLAN.VERSION);
  u32(PLAN.H_HEADER_SIZE, PLAN.HEADER_SIZE);
  u32(PLAN.H_TARGET, p.target);
  u64(PLAN.H_FILE_SIZE, fileSize);
  u64(PLAN.H_ARENA_SIZE, p.arenaBytes);
  u64(PLAN.H_KERNELS_ID, p.kernelsId);
  u32(PLAN.H_KERNEL_COUNT, p.kernelCount);
  u32(PLAN.H_TENSOR_COUNT, p.tensors.length);
  u32(PLAN.H_STEP_COUNT, p.steps.length);
  u32(PLAN.H_ARG_COUNT, argCount);
  u32(PLAN.H_INPUT_COUNT, p.inputs.length);
  u32(PLAN.H_OUTPUT_COUNT, p.outputs.length);
  u64(PLAN.H_PLAN_OFFSET, PLAN.HEADER_SIZE);
  u64(PLAN.H_PLAN_SIZE, weightsOff - PLAN.HEADER_SIZE);
  u64(PLAN.H_WEIGHTS_OFFSET, weightsOff);
  u64(PLAN.H_WEIGHTS_SIZE, p.weights.length);
  u64(PLAN.H_TENSORS_OFFSET, tensorsOff);
  u64(PLAN.H_STEPS_OFFSET, stepsOff);
  u64(PLAN.H_ARGS_OFFSET, argsOff);
  u64(PLAN.H_IO_OFFSET, ioOff);
  u64(PLAN.H_STRINGS_OFFSET, stringsOff);
  u64(PLAN.H_STRINGS_SIZE, strSize);
  u64(PLAN.H_PREPARED_SIZE, p.preparedBytes);
  u64(PLAN.H_PLAN_CHECKSUM, fnv1a64(out.subarray(PLAN.HEADER_SIZE, weightsOff)));
  u64(PLAN.H_WEIGHTS_CHECKSUM, fnv1a64(out.subarray(weightsOff)));
  u64(PLAN.H_HEADER_CHECKSUM, fnv1a64(out.subarray(0, PLAN.H_HEADER_CHECKSUM)));
  return out;
}

/** The sections of a model.infc file, from its header (for tools and tests; no validation). */
export function planSections(bytes: Uint8Array): { header: [number, number]; plan: [number, number]; weights: [number, number] } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const num = (o: number): number => Number(dv.getBigUint64(o, true));
  const planOff = num(PLAN.H_PLAN_OFFSET);
  const weightsOff = num(PLAN.H_WEIGHTS_OFFSET);
  return { header: [0, PLAN.HEADER_SIZE], plan: [planOff, weightsOff], weights: [weightsOff, bytes.length] };
}
