/**
 * Canonical op FusedElementwise (built by passes/fuse-elementwise.ts, never imported from ONNX):
 * a tree of elementwise ops over the node's inputs, computed in one pass over the output.
 *
 *   %y: f32[1,8,16,16] = FusedElementwise(%x, %scale, %lo, %hi) {program="Clip(Mul(Sigmoid($0), $1), $2, $3)"}
 *
 * Attribute `program` (a string) holds the expression:
 *
 *   term  := input | call
 *   input := '$' digits                          the node's input k (0-based)
 *   call  := OP attrs? '(' arg (',' arg)* ')'
 *   arg   := term | '_'                          '_': an omitted optional operand (Clip's min or max)
 *   attrs := '{' NAME '=' value (',' NAME '=' value)* '}'
 *   value := number | 'nan' | 'inf' | '-inf' | NAME   (NAME: [A-Za-z_][A-Za-z0-9_]*, a string value)
 *
 * Whitespace between tokens is free. OP is one of `PROGRAM_OPS` (elementwise float math, the
 * activations, broadcasting arithmetic, comparisons, logic and Where); attributes are those of the
 * op's own schema (omitted ones take its defaults), spelled like text IR float attributes (an f32
 * value in its shortest f32 spelling). Clip's min and max must be inputs (`$k`) or `_`. Every input
 * must be used. The program is a tree: an input may be read several times, a computed value once.
 *
 * Types: every term has the dtype of the result (a float dtype, f32/f64/f16/bf16) or bool (the
 * result of a comparison, IsNaN or logic, read by Where or logic); every input has one of the two.
 * Shape: the broadcast of all inputs, which must equal what the expression computes (it differs
 * only for Clip of a scalar with [1]-shaped bounds).
 *
 * The reference implementation evaluates the tree by calling the reference implementation of each
 * op, so the result is bit-identical to the unfused nodes, with each intermediate rounded to its
 * dtype as the unfused graph does. Programs come from text IR too, so they are checked strictly:
 * errors name the node and give the offset in the program.
 */
import { Node, type ValueType } from "../graph.ts";
import { DTYPE_INFO } from "../dtype.ts";
import { type AttrSpec, type InferCtx, type OpInfo, type RunCtx, type RValue, attrReader } from "../op-types.ts";
import type { Tensor } from "../tensor.ts";
import { formatAttrFloat, readAttrFloat } from "../text-common.ts";
import { ELEMENTWISE_OPS } from "./elementwise.ts";
import { broadcastDims, fail, prod, tensorArg } from "./support.ts";

/** A term of a program. */
export type Term =
  | { readonly kind: "input"; readonly index: number }
  | { readonly kind: "omitted" }
  | { readonly kind: "call"; readonly op: string; readonly attrs: Readonly<Record<string, number | string>>; readonly args: readonly Term[] };

export type Call = Extract<Term, { kind: "call" }>;

/** What a program op computes: a value of the program's float dtype, or bool. */
export interface ProgramOp {
  readonly result: "value" | "bool";
  /** Operand positions that may be `_` and must otherwise be an input (Clip's bounds). */
  readonly bounds?: readonly number[];
}

const V: ProgramOp = { result: "value" };
const B: ProgramOp = { result: "bool" };

/** The ops a program may use (each has a reference in ELEMENTWISE_OPS and a fused C expression). */
export const PROGRAM_OPS: Readonly<Record<string, ProgramOp>> = {
  Add: V, Sub: V, Mul: V, Div: V, Pow: V, PRelu: V, Max: V, Min: V, Sum: V, Mean: V,
  Neg: V, Abs: V, Sign: V, Reciprocal: V, Sqrt: V, Exp: V, Log: V, Floor: V, Ceil: V, Round: V, Erf: V,
  Sin: V, Cos: V, Tan: V, Asin: V, Acos: V, Atan: V, Sinh: V, Cosh: V, Asinh: V, Acosh: V, Atanh: V,
  Sigmoid: V, Tanh: V, Relu: V, LeakyRelu: V, Elu: V, Selu: V, Celu: V, ThresholdedRelu: V, HardSigmoid: V,
  HardSwish: V, Softplus: V, Softsign: V, Gelu: V, Mish: V, Swish: V, Shrink: V,
  Clip: { result: "value", bounds: [1, 2] },
  Where: V,
  Equal: B, Less: B, LessOrEqual: B, Greater: B, GreaterOrEqual: B, IsNaN: B, Not: B, And: B, Or: B, Xor: B,
};

const EW = ELEMENTWISE_OPS as Readonly<Record<string, OpInfo>>;

/** The reference op of a program op. */
export function programOpInfo(op: string): OpInfo {
  const info = EW[op];
  if (!info || !Object.hasOwn(PROGRAM_OPS, op)) throw new Error(`'${op}' is not a program op`);
  return info;
}

/** Nesting limit of programs (the pass builds far smaller ones; text IR may be hostile). */
export const MAX_PROGRAM_DEPTH = 512;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
// tokens, matched in place (sticky) so long programs are not copied per token
const NAME_TOKEN = /[A-Za-z_][A-Za-z0-9_]*/y;
const NUMBER_TOKEN = /-?(?:inf|nan|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)/y;
const DIGITS_TOKEN = /\d+/y;

// ---------------------------------------------------------------------------------------------
// printing

function printAttr(spec: AttrSpec | undefined, v: number | string): string {
  if (typeof v === "string") return v;
  return spec?.type === "int" ? String(v) : formatAttrFloat(v);
}

/** The program text of a term (what parseProgram reads back to the same term). */
export function printProgram(t: Term): string {
  switch (t.kind) {
    case "input": return `$${t.index}`;
    case "omitted": return "_";
    case "call": {
      const schema = EW[t.op]?.attrs ?? {};
      const keys = Object.keys(t.attrs).sort();
      const attrs = keys.length ? `{${keys.map((k) => `${k}=${printAttr(schema[k], t.attrs[k]!)}`).join(", ")}}` : "";
      return `${t.op}${attrs}(${t.args.map(printProgram).join(", ")})`;
    }
  }
}

/**
 * Whether an attribute value of op `op` can be written in a program and reads back unchanged
 * (floats whose text IR spelling is exact, strings that are names, ints).
 */
export function programAttrOk(op: string, key: string, v: unknown): v is number | string {
  const spec = EW[op]?.attrs[key];
  if (!spec) return false;
  if (spec.type === "string") return typeof v === "string" && NAME.test(v);
  if (spec.type === "int") return typeof v === "number" && Number.isSafeInteger(v);
  if (spec.type !== "float" || typeof v !== "number") return false;
  return Object.is(readAttrFloat(numberOfText(formatAttrFloat(v))), v);
}

/** A number as programs spell it (`nan`, `inf`, `-inf`, or decimal digits). */
function numberOfText(s: string): number {
  if (s === "nan") return NaN;
  if (s === "inf" || s === "-inf") return s === "inf" ? Infinity : -Infinity;
  return Number(s);
}

// ---------------------------------------------------------------------------------------------
// parsing

/**
 * Parses and checks a program over `inputCount` inputs; errors go to `error` (which throws), with
 * the offset in the text.
 */
export function parseProgram(text: string, inputCount: number, error: (msg: string) => never): Call {
  let pos = 0;
  const used = new Set<number>();
  // messages show the program (shortened: text IR may hold anything)
  const shown = JSON.stringify(text.length > 100 ? `${text.slice(0, 97)}...` : text);
  const bad = (msg: string, at = pos): never => error(`program ${shown}: ${msg} at offset ${at}`);
  const token = (re: RegExp): string | undefined => {
    re.lastIndex = pos;
    const m = re.exec(text);
    if (m) pos += m[0].length;
    return m?.[0];
  };
  const ws = (): void => {
    while (pos < text.length && /\s/.test(text[pos]!)) pos++;
  };
  const peek = (): string => (ws(), text[pos] ?? "");
  const expect = (ch: string): void => {
    if (peek() !== ch) bad(`expected '${ch}', found ${pos < text.length ? `'${text[pos]}'` : "the end"}`);
    pos++;
  };
  const word = (): string => {
    ws();
    return token(NAME_TOKEN) ?? bad(`expected a name, found ${pos < text.length ? `'${text[pos]}'` : "the end"}`);
  };
  const number = (): number => {
    ws();
    const at = pos;
    const s = token(NUMBER_TOKEN);
    if (s === undefined || s === "-nan") return bad("expected a number", at);
    return numberOfText(s);
  };
  const attrValue = (op: string, key: string, spec: AttrSpec): number | string => {
    const at = (ws(), pos);
    if (spec.type === "string") return word();
    const v = number();
    if (spec.type === "int") {
      if (!Number.isSafeInteger(v)) bad(`${op} attribute '${key}' must be an int`, at);
      return v;
    }
    if (spec.type !== "float") return bad(`${op} attribute '${key}' (${spec.type}) cannot be written in a program`, at);
    return readAttrFloat(v);
  };
  const term = (depth: number, bound: boolean): Term => {
    if (depth > MAX_PROGRAM_DEPTH) bad(`nesting deeper than ${MAX_PROGRAM_DEPTH}`);
    const at = (ws(), pos);
    const c = peek();
    if (c === "$") {
      pos++;
      const digits = token(DIGITS_TOKEN) ?? bad("expected an input number after '$'");
      const index = Number(digits);
      if (index >= inputCount) bad(`$${digits} is out of range: the node has ${inputCount} input${inputCount === 1 ? "" : "s"}`, at);
      used.add(index);
      return { kind: "input", index };
    }
    if (c === "_" && !/[A-Za-z0-9_]/.test(text[pos + 1] ?? "")) {
      if (!bound) bad("'_' (omitted operand) is only allowed for Clip's min and max", at);
      pos++;
      return { kind: "omitted" };
    }
    const op = word();
    if (bound) bad(`Clip's min and max must be inputs ($k) or '_', found ${op}`, at);
    const spec = Object.hasOwn(PROGRAM_OPS, op) ? PROGRAM_OPS[op]! : undefined;
    if (!spec) bad(`op '${op}' is not an elementwise op a program may use (${Object.keys(PROGRAM_OPS).sort().join(", ")})`, at);
    const info = EW[op]!;
    const attrs: Record<string, number | string> = {};
    if (peek() === "{") {
      pos++;
      for (;;) {
        const kat = (ws(), pos);
        const key = word();
        const aspec = Object.hasOwn(info.attrs, key) ? info.attrs[key] : undefined;
        if (!aspec) bad(`${op} has no attribute '${key}'${Object.keys(info.attrs).length ? ` (it has ${Object.keys(info.attrs).join(", ")})` : ""}`, kat);
        if (Object.hasOwn(attrs, key)) bad(`${op} attribute '${key}' is given twice`, kat);
        expect("=");
        attrs[key] = attrValue(op, key, aspec!);
        if (peek() === "}") break;
        if (peek() !== ",") bad(`expected ',' or '}', found ${pos < text.length ? `'${text[pos]}'` : "the end"}`);
        pos++;
      }
      pos++;
    }
    expect("(");
    const args: Term[] = [];
    for (;;) {
      args.push(term(depth + 1, spec!.bounds?.includes(args.length) ?? false));
      if (peek() === ")") break;
      if (peek() !== ",") bad(`expected ',' or ')', found ${pos < text.length ? `'${text[pos]}'` : "the end"}`);
      pos++;
    }
    pos++;
    const [lo, hi] = info.inputs;
    if (args.length < lo || args.length > hi) {
      const want = lo === hi ? `${lo}` : hi === Infinity ? `at least ${lo}` : `${lo} to ${hi}`;
      bad(`${op} takes ${want} operand${want === "1" ? "" : "s"}, found ${args.length}`, at);
    }
    return { kind: "call", op, attrs, args };
  };
  const root = term(0, false);
  if (peek() !== "") bad(`unexpected '${text[pos]}' after the expression`);
  if (root.kind !== "call") bad("the program must apply an op, not just read an input", 0);
  for (let k = 0; k < inputCount; k++) if (!used.has(k)) error(`program ${shown}: input ${k} is not used`);
  return root as Call;
}

// ---------------------------------------------------------------------------------------------
// types

/** A synthetic node for the reference op of a call (named after the fused node, for messages). */
function subNode(owner: Node, t: Call): Node {
  return new Node(t.op as never, owner.name, [], [], { ...t.attrs });
}

/** Calls `f`, turning an error of a term's op into an error of the fused node. */
function inTerm<T>(owner: Node, t: Call, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof Error)) throw e;
    const prefix = `node '${owner.name}' (${t.op}): `;
    const msg = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
    return fail(owner, `in ${t.op} of the program: ${msg}`);
  }
}

/**
 * The type of every call of a program, given the node's input types and constant inputs, by each
 * op's own inference; checks that the result is a float dtype and every term and input has it or
 * is bool. Returns the types by call (root last).
 */
export function programTypes(
  node: Node, root: Call, inputs: readonly (ValueType | undefined)[], constOf: (k: number) => Tensor | undefined,
): Map<Call, ValueType> {
  const types = new Map<Call, ValueType>();
  const typeOf = (t: Term): ValueType | undefined => {
    if (t.kind === "omitted") return undefined;
    if (t.kind === "input") {
      const ty = inputs[t.index];
      if (!ty || ty.kind !== "tensor") return fail(node, `input ${t.index} must be a tensor`);
      return ty;
    }
    const argTypes = t.args.map(typeOf);
    const info = programOpInfo(t.op);
    const sub = subNode(node, t);
    const ctx: InferCtx = {
      ...attrReader(sub, info.attrs, t.op),
      node: sub,
      inputs: argTypes,
      constOf: (i) => {
        const a = t.args[i];
        return a?.kind === "input" ? constOf(a.index) : undefined;
      },
      outputCount: 1,
    };
    const out = inTerm(node, t, () => info.infer(ctx))[0]!;
    types.set(t, out);
    return out;
  };
  const result = typeOf(root)!;
  const dt = result.kind === "tensor" ? result.dtype : undefined;
  if (!dt || DTYPE_INFO[dt].cls !== "float") return fail(node, `the program must compute a float tensor, found ${dt ?? result.kind}`);
  const ok = (t: ValueType | undefined): boolean => t?.kind === "tensor" && (t.dtype === dt || t.dtype === "bool");
  inputs.forEach((t, k) => {
    if (!ok(t)) fail(node, `input ${k} must have dtype ${dt} (the program's) or bool, found ${t?.kind === "tensor" ? t.dtype : t?.kind ?? "nothing"}`);
  });
  for (const [t, ty] of types) {
    if (!ok(ty)) fail(node, `${t.op} in the program computes ${ty.kind === "tensor" ? ty.dtype : ty.kind}, expected ${dt} or bool`);
  }
  return types;
}

/** Broadcast of every input's shape, when all ranks are known. */
function inputsBroadcast(inputs: readonly (ValueType | undefined)[]): ReturnType<typeof broadcastDims> {
  return broadcastDims(...inputs.map((t) => (t?.kind === "tensor" ? t.shape : undefined)));
}

/** Fails when two known dims of the inputs (right-aligned) are neither equal nor 1. */
function checkBroadcast(node: Node, inputs: readonly (ValueType | undefined)[]): void {
  const shapes = inputs.map((t) => (t?.kind === "tensor" ? t.shape : undefined));
  const rank = Math.max(0, ...shapes.map((s) => s?.length ?? 0));
  for (let d = 1; d <= rank; d++) {
    let seen: { k: number; n: number } | undefined;
    shapes.forEach((s, k) => {
      const n = s?.[s.length - d];
      if (typeof n !== "number" || n === 1) return;
      if (seen && seen.n !== n) {
        fail(node, `inputs ${seen.k} [${shapes[seen.k]!.join(",")}] and ${k} [${s!.join(",")}] do not broadcast`);
      }
      seen ??= { k, n };
    });
  }
}

function infer(ctx: InferCtx): ValueType[] {
  const root = parseProgram(ctx.string("program"), ctx.inputs.length, (m) => fail(ctx.node, m));
  checkBroadcast(ctx.node, ctx.inputs);
  const out = programTypes(ctx.node, root, ctx.inputs, (k) => ctx.constOf(k)).get(root)!;
  const all = inputsBroadcast(ctx.inputs);
  const shape = out.kind === "tensor" ? out.shape : undefined;
  if (all && shape) {
    const same = all.length === shape.length && all.every((d, i) => typeof d !== "number" || typeof shape[i] !== "number" || d === shape[i]);
    if (!same) fail(ctx.node, `the program computes shape [${shape.join(",")}], not the broadcast of its inputs [${all.join(",")}]`);
  }
  return [out];
}

function run(ins: readonly (RValue | undefined)[], ctx: RunCtx): (RValue | undefined)[] {
  const node = ctx.node;
  const root = parseProgram(ctx.string("program"), ins.length, (m) => fail(node, m));
  const xs = ins.map((v, k) => tensorArg(node, v, k));
  programTypes(node, root, xs.map((x) => ({ kind: "tensor", dtype: x.dtype, shape: x.shape })), () => undefined);
  const evalTerm = (t: Term): Tensor | undefined => {
    if (t.kind === "omitted") return undefined;
    if (t.kind === "input") return xs[t.index]!;
    const args = t.args.map(evalTerm);
    const info = programOpInfo(t.op);
    const sub = subNode(node, t);
    const sctx: RunCtx = { ...attrReader(sub, info.attrs, t.op), node: sub, runGraph: ctx.runGraph, outputType: () => undefined };
    return inTerm(node, t, () => tensorArg(sub, info.run(args, sctx)[0], 0));
  };
  const y = evalTerm(root)!;
  const all = inputsBroadcast(xs.map((x) => ({ kind: "tensor", dtype: x.dtype, shape: x.shape })))!;
  if (all.length !== y.rank || all.some((d, i) => d !== y.shape[i])) {
    fail(node, `the program computes shape [${y.shape.join(",")}], not the broadcast of its inputs [${all.join(",")}]`);
  }
  return [y];
}

/** Number of op applications in a program. */
export function callCount(t: Term): number {
  return t.kind === "call" ? 1 + t.args.reduce((s, a) => s + callCount(a), 0) : 0;
}

export const FUSED_ELEMENTWISE_OPS = {
  FusedElementwise: {
    attrs: { program: { type: "string", required: true } },
    inputs: [1, Infinity],
    outputs: [1, 1],
    infer,
    run,
    flops: (ctx, outs) => {
      const t = outs[0];
      if (!t || t.kind !== "tensor" || !t.shape || !t.shape.every((d) => typeof d === "number")) return 0;
      const root = parseProgram(ctx.string("program"), ctx.inputs.length, (m) => fail(ctx.node, m));
      return prod(t.shape as number[]) * callCount(root);
    },
  },
} satisfies Record<string, OpInfo>;
