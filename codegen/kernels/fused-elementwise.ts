/**
 * C kernel: FusedElementwise (ir/ops/fused-elementwise.ts) — the whole program per output element,
 * in one loop over [task_begin, task_end) of the output (one task per element).
 *
 * Per element: each input is read once into a local of its compute type (`a<k>`; scalar constants
 * are baked in as literals, as the single-op kernels do), then every op of the program, innermost
 * first, into a local `t<j>`, and the root is stored. The loop is the elementwise kernels' own
 * (elementwise-loop.ts): flat when every input is full-size or one element, else rows along which
 * each input is contiguous or constant, with no per-element division. Each op's C expression is
 * the one its single-op kernel in elementwise.ts uses: f32 (and the narrow floats, computed in
 * float) take the vectorizable math of `activationExpr`, f64 stays on libm. With f16/bf16 every
 * intermediate is rounded to the dtype (stored and reloaded), as the unfused kernels round it in
 * memory, so fusing changes no value.
 */
import { type DType, DTYPE_INFO } from "../../ir/dtype.ts";
import { Node, type ValueType } from "../../ir/graph.ts";
import type { OpKind } from "../../ir/ops.ts";
import { type AttrReader, attrReader } from "../../ir/op-types.ts";
import { type Call, type Term, parseProgram, programOpInfo, programTypes } from "../../ir/ops/fused-elementwise.ts";
import type { EmitNode, Emitter, Helper, Lowered, TensorInfo } from "../kernel.ts";
import type { CStyleRenderer } from "../cstyle.ts";
import { ewLoop, type LoopOperand } from "./elementwise-loop.ts";
import { activationExpr } from "./elementwise-math.ts";

/** An operand of an op in the program: a C local, and its value when it is a baked constant. */
export interface Arg {
  readonly v: string;
  readonly value: number | undefined;
}

/** What an op's expression builder sees. */
export interface TermCtx {
  readonly r: CStyleRenderer;
  /** The program's float dtype and its compute type ("float" or "double"). */
  readonly dt: DType;
  readonly ct: string;
  /** Operands in order; undefined for an omitted one (Clip's bounds). */
  readonly args: readonly (Arg | undefined)[];
  readonly attrs: AttrReader;
  /** A literal of the compute type. */
  lit(v: number): string;
  /** A math function of the compute type (expf / exp). */
  fn(name: string): string;
  use(...helpers: string[]): void;
  /** A fresh local name for statements. */
  tmp(): string;
  fail(msg: string): never;
}

/** An expression, optionally after statements (which declare `tmp()` locals only). */
export type Built = string | { readonly pre: readonly string[]; readonly expr: string };
type Build = (c: TermCtx) => Built;

const x0 = (c: TermCtx): string => c.args[0]!.v;
const x1 = (c: TermCtx): string => c.args[1]!.v;

/** Unary op from a C math function. */
const math = (name: string): Build => (c) => `${c.fn(name)}(${x0(c)})`;

/** A float activation: `activationExpr` in float, `dbl` (libm) in double; `names`: attributes it reads. */
function act(op: string, dbl: Build, names: readonly string[] = []): Build {
  return (c) => {
    if (c.ct !== "float") return dbl(c);
    const attrs: Record<string, number | string> = {};
    for (const k of names) attrs[k] = k === "approximate" ? c.attrs.string(k) : c.attrs.float(k);
    const e = activationExpr(op, attrs, x0(c));
    if (!e) return c.fail(`${op} with attributes ${JSON.stringify(attrs)} is not supported`);
    c.use(...e.helpers);
    return e.expr;
  };
}

const attr = (c: TermCtx, name: string): string => c.lit(c.attrs.float(name));

const sigmoidExpr = (c: TermCtx, x: string): string => {
  const e = c.fn("exp");
  return `(${x} >= ${c.lit(0)} ? ${c.lit(1)} / (${c.lit(1)} + ${e}(-${x})) : ${e}(${x}) / (${c.lit(1)} + ${e}(${x})))`;
};

const softplusExpr = (c: TermCtx, x: string): string =>
  `((${x} > ${c.lit(0)} ? ${x} : ${c.lit(0)}) + ${c.fn("log1p")}(${c.fn("exp")}(-${c.fn("fabs")}(${x}))))`;

/** NaN-propagating max / min (like Math.max), folded left over the operands. */
function pick(cmp: ">" | "<"): Build {
  return (c) => {
    const acc = c.tmp();
    const pre = [`${c.ct} ${acc} = ${x0(c)};`];
    for (const a of c.args.slice(1)) pre.push(`${acc} = (${acc} ${cmp} ${a!.v} || ${acc} != ${acc}) ? ${acc} : ${a!.v};`);
    return { pre, expr: acc };
  };
}

const sum = (c: TermCtx): string => c.args.map((a) => a!.v).join(" + ");

function pow(c: TermCtx): string {
  const x = x0(c);
  const e = c.args[1]!.value;
  if (e === 1) return x;
  if (e === 2) return `${x} * ${x}`;
  if (e === 3) return `${x} * ${x} * ${x}`;
  if (e === 0.5) return `${c.fn("sqrt")}(${x})`;
  return `${c.fn("pow")}(${x}, (${c.ct})${x1(c)})`;
}

function clip(c: TermCtx): Built {
  const t = c.tmp();
  const pre = [`${c.ct} ${t} = ${x0(c)};`];
  // a baked NaN bound leaves that side open, like an omitted one (a loaded NaN compares false)
  const bound = (a: Arg | undefined): string | undefined => (a === undefined || Number.isNaN(a.value) ? undefined : a.v);
  const lo = bound(c.args[1]);
  const hi = bound(c.args[2]);
  if (lo) pre.push(`if (${t} < ${lo}) ${t} = ${lo};`);
  if (hi) pre.push(`if (${t} > ${hi}) ${t} = ${hi};`);
  return { pre, expr: t };
}

function gelu(c: TermCtx): string {
  const x = x0(c);
  const mode = c.attrs.string("approximate");
  const half = c.lit(0.5);
  const one = c.lit(1);
  if (mode === "none") return `${half} * ${x} * (${one} + ${c.fn("erf")}(${x} * ${c.lit(Math.SQRT1_2)}))`;
  if (mode === "tanh") {
    return `${half} * ${x} * (${one} + ${c.fn("tanh")}(${c.lit(Math.sqrt(2 / Math.PI))} * (${x} + ${c.lit(0.044715)} * ${x} * ${x} * ${x})))`;
  }
  return c.fail(`attribute approximate must be "none" or "tanh", found "${mode}"`);
}

/** Each program op's expression, as its single-op kernel in elementwise.ts computes it for a float dtype. */
export const TERM_BUILDERS: Readonly<Record<string, Build>> = {
  Add: (c) => `${x0(c)} + ${x1(c)}`,
  Sub: (c) => `${x0(c)} - ${x1(c)}`,
  Mul: (c) => `${x0(c)} * ${x1(c)}`,
  Div: (c) => `${x0(c)} / ${x1(c)}`,
  Pow: pow,
  PRelu: (c) => `${x0(c)} < 0 ? ${x1(c)} * ${x0(c)} : ${x0(c)}`,
  Max: pick(">"),
  Min: pick("<"),
  Sum: sum,
  Mean: (c) => `(${sum(c)}) / ${c.lit(c.args.length)}`,

  Neg: (c) => `-${x0(c)}`,
  Abs: (c) => `${c.fn("fabs")}(${x0(c)})`,
  Sign: (c) => {
    const x = x0(c);
    return `${x} > 0 ? ${c.lit(1)} : ${x} < 0 ? ${c.lit(-1)} : ${x} == 0 ? ${c.lit(0)} : ${x}`;
  },
  Reciprocal: (c) => `${c.lit(1)} / ${x0(c)}`,
  Sqrt: math("sqrt"),
  Exp: act("Exp", (c) => `exp(${x0(c)})`),
  Log: math("log"),
  Floor: math("floor"),
  Ceil: math("ceil"),
  Round: math("nearbyint"),
  Erf: act("Erf", (c) => `${c.fn("erf")}(${x0(c)})`),
  Sin: math("sin"),
  Cos: math("cos"),
  Tan: math("tan"),
  Asin: math("asin"),
  Acos: math("acos"),
  Atan: math("atan"),
  Sinh: math("sinh"),
  Cosh: math("cosh"),
  Asinh: math("asinh"),
  Acosh: math("acosh"),
  Atanh: math("atanh"),

  Sigmoid: act("Sigmoid", (c) => sigmoidExpr(c, x0(c))),
  Tanh: act("Tanh", (c) => `tanh(${x0(c)})`),
  Relu: (c) => `(${x0(c)} > ${c.lit(0)} || ${x0(c)} != ${x0(c)}) ? ${x0(c)} : ${c.lit(0)}`,
  LeakyRelu: (c) => `${x0(c)} >= ${c.lit(0)} ? ${x0(c)} : ${attr(c, "alpha")} * ${x0(c)}`,
  Elu: act("Elu", (c) => `${x0(c)} < ${c.lit(0)} ? ${attr(c, "alpha")} * ${c.fn("expm1")}(${x0(c)}) : ${x0(c)}`, ["alpha"]),
  Selu: act("Selu", (c) => {
    const x = x0(c);
    const alpha = c.attrs.float("alpha");
    const gamma = c.attrs.float("gamma");
    return `${x} <= ${c.lit(0)} ? ${c.lit(gamma * alpha)} * ${c.fn("expm1")}(${x}) : ${c.lit(gamma)} * ${x}`;
  }, ["alpha", "gamma"]),
  Celu: act("Celu", (c) => {
    const x = x0(c);
    const e = c.tmp();
    const z = c.lit(0);
    return {
      pre: [`const ${c.ct} ${e} = ${attr(c, "alpha")} * ${c.fn("expm1")}(${x} / ${attr(c, "alpha")});`],
      expr: `${x} != ${x} ? ${x} : (${x} > ${z} ? ${x} : ${z}) + (${e} < ${z} ? ${e} : ${z})`,
    };
  }, ["alpha"]),
  ThresholdedRelu: (c) => `${x0(c)} > ${attr(c, "alpha")} ? ${x0(c)} : ${c.lit(0)}`,
  HardSigmoid: act("HardSigmoid", (c) => {
    const t = c.tmp();
    return {
      pre: [`const ${c.ct} ${t} = ${attr(c, "alpha")} * ${x0(c)} + ${attr(c, "beta")};`],
      expr: `${t} < ${c.lit(0)} ? ${c.lit(0)} : ${t} > ${c.lit(1)} ? ${c.lit(1)} : ${t}`,
    };
  }, ["alpha", "beta"]),
  HardSwish: act("HardSwish", (c) => {
    const t = c.tmp();
    return {
      pre: [`const ${c.ct} ${t} = ${x0(c)} / ${c.lit(6)} + ${c.lit(0.5)};`],
      expr: `${x0(c)} * (${t} < ${c.lit(0)} ? ${c.lit(0)} : ${t} > ${c.lit(1)} ? ${c.lit(1)} : ${t})`,
    };
  }),
  Softplus: act("Softplus", (c) => softplusExpr(c, x0(c))),
  Softsign: (c) => `${x0(c)} / (${c.lit(1)} + ${c.fn("fabs")}(${x0(c)}))`,
  Gelu: (c) => {
    const mode = c.attrs.string("approximate");
    if (mode !== "none" && mode !== "tanh") c.fail(`attribute approximate must be "none" or "tanh", found "${mode}"`);
    return act("Gelu", gelu, ["approximate"])(c);
  },
  Mish: act("Mish", (c) => `${x0(c)} * ${c.fn("tanh")}(${softplusExpr(c, x0(c))})`),
  Swish: act("Swish", (c) => `${x0(c)} * ${sigmoidExpr(c, `(${attr(c, "alpha")} * ${x0(c)})`)}`, ["alpha"]),
  Shrink: (c) => {
    const x = x0(c);
    const bias = c.attrs.float("bias");
    const lambd = c.attrs.float("lambd");
    return `${x} < ${c.lit(-lambd)} ? ${x} + ${c.lit(bias)} : ${x} > ${c.lit(lambd)} ? ${x} - ${c.lit(bias)} : ${c.lit(0)}`;
  },
  Clip: clip,
  Where: (c) => `${x0(c)} ? ${x1(c)} : ${c.args[2]!.v}`,

  Equal: (c) => `${x0(c)} == ${x1(c)}`,
  Less: (c) => `${x0(c)} < ${x1(c)}`,
  LessOrEqual: (c) => `${x0(c)} <= ${x1(c)}`,
  Greater: (c) => `${x0(c)} > ${x1(c)}`,
  GreaterOrEqual: (c) => `${x0(c)} >= ${x1(c)}`,
  IsNaN: (c) => `${x0(c)} != ${x0(c)}`,
  Not: (c) => `!${x0(c)}`,
  And: (c) => `${x0(c)} && ${x1(c)}`,
  Or: (c) => `${x0(c)} || ${x1(c)}`,
  Xor: (c) => `!${x0(c)} != !${x1(c)}`,
};

/** The value of a constant input worth baking into the code (one element), as ewLower bakes it. */
function bakeable(x: TensorInfo): number | undefined {
  if (!x.const || x.size !== 1) return undefined;
  return x.const.data[0];
}

/** Whether `s` broadcasts onto `out` without changing it. */
function broadcastsOnto(s: readonly number[], out: readonly number[]): boolean {
  const off = out.length - s.length;
  return off >= 0 && s.every((d, i) => d === 1 || d === out[off + i]);
}

function fusedElementwise(n: EmitNode): Lowered {
  const { r } = n;
  const y = n.outputs[0]!;
  const dt = y.dtype;
  for (const t of [...n.inputs, y]) {
    if (!t) n.fail("inputs cannot be omitted");
    if (DTYPE_INFO[t.dtype].bits < 8) n.fail(`packed dtype ${t.dtype} is not supported`);
  }
  const inputs = n.inputs as readonly TensorInfo[];
  let root: Call;
  let types: Map<Call, ValueType>;
  try {
    root = parseProgram(n.attrs.string("program"), inputs.length, (m) => n.fail(m));
    types = programTypes(n.node, root, inputs.map((x) => ({ kind: "tensor", dtype: x.dtype, shape: x.shape })), (k) => inputs[k]!.const);
  } catch (e) {
    if (!(e instanceof Error) || e.name !== "OpError") throw e;
    const prefix = `node '${n.node.name}' (${n.node.op}): `;
    return n.fail(e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message);
  }
  const out = types.get(root)!;
  if (out.kind !== "tensor" || out.dtype !== dt || !out.shape || out.shape.length !== y.shape.length || out.shape.some((d, i) => d !== y.shape[i])) {
    n.fail(`the program computes ${out.kind === "tensor" ? `${out.dtype}[${out.shape?.join(",") ?? "*"}]` : out.kind}, the output is ${dt}[${y.shape.join(",")}]`);
  }
  inputs.forEach((x, k) => {
    if (!broadcastsOnto(x.shape, y.shape)) n.fail(`input ${k} of shape [${x.shape.join(",")}] does not broadcast to the output [${y.shape.join(",")}]`);
  });
  if (y.size === 0) return { kernels: [] };

  const helpers = new Set<string>(r.convHelpers(dt));
  const ct = r.computeType(dt);
  // inputs: a<k>, baked or loaded
  const decls = new Map<number, (at: (i: number) => string) => string>();
  const loaded: LoopOperand[] = [];
  const args: Arg[] = inputs.map((x, k) => {
    const v = `a${k}`;
    const xct = r.computeType(x.dtype);
    const value = bakeable(x);
    if (value !== undefined) {
      const lit = r.literal(x.dtype, x.dtype === "bool" ? (value ? 1 : 0) : value);
      decls.set(k, () => `const ${xct} ${v} = ${lit};`);
    } else {
      decls.set(k, (at) => `const ${xct} ${v} = ${r.load(x.dtype, at(k))};`);
      loaded.push({ index: k, shape: x.shape });
      for (const h of r.convHelpers(x.dtype)) helpers.add(h);
    }
    return { v, value };
  });
  // the program, innermost first
  const stmts: string[] = [];
  let next = 0;
  let tmps = 0;
  const emit = (t: Call): string => {
    const termArgs = t.args.map((a: Term): Arg | undefined => {
      if (a.kind === "omitted") return undefined;
      if (a.kind === "input") return args[a.index]!;
      return { v: emit(a), value: undefined };
    });
    const build = TERM_BUILDERS[t.op];
    if (!build) return n.fail(`op ${t.op} in the program has no C expression`);
    const j = next++;
    const ctx: TermCtx = {
      r, dt, ct, args: termArgs,
      attrs: attrReader(new Node(t.op as OpKind, n.node.name, [], [], { ...t.attrs }), programOpInfo(t.op).attrs, t.op),
      lit: (v) => r.literal(dt, v),
      fn: (name) => r.fn(name, dt),
      use: (...h) => h.forEach((x) => helpers.add(x)),
      tmp: () => `t${j}_${tmps++}`,
      fail: (m) => n.fail(`${t.op} in the program: ${m}`),
    };
    const res = build(ctx);
    const expr = typeof res === "string" ? res : res.expr;
    if (typeof res !== "string") stmts.push(...res.pre);
    if (t === root) return expr;
    const ty = types.get(t)!;
    const tdt = ty.kind === "tensor" ? ty.dtype : dt;
    // narrow floats: round each intermediate to the dtype, as the unfused kernels' stores do
    const val = tdt === "bool" ? `(${expr})` : r.isNarrowFloat(dt) ? r.load(dt, r.store(dt, expr)) : expr;
    stmts.push(`const ${r.computeType(tdt)} t${j} = ${val};`);
    return `t${j}`;
  };
  const result = emit(root);
  const store = r.store(dt, result);
  const used = (k: number): boolean => [...stmts, store].some((l) => new RegExp(`\\ba${k}\\b`).test(l));
  const body = ewLoop(y.shape, loaded.filter((o) => used(o.index)), ({ at, out }) => [
    ...inputs.flatMap((_, k) => (used(k) ? [decls.get(k)!(at)] : [])),
    ...stmts,
    `y0[${out}] = ${store};`,
  ]);
  return { kernels: [{ tasks: y.size, body, helpers: [...helpers] }] };
}

export const FUSED_ELEMENTWISE_KERNELS: Partial<Record<OpKind, Emitter>> = { FusedElementwise: fusedElementwise };
export const FUSED_ELEMENTWISE_HELPERS: Readonly<Record<string, Helper>> = {};
