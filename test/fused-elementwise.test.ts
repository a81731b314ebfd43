/**
 * FusedElementwise: the program notation (printing, parsing, the errors a user's text IR gets), the
 * reference implementation (bit-identical to the unfused nodes), and the C kernel (every program op
 * in f32, f64 and f16, bit-identical to the unfused single-op kernels and close to the reference).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Graph, type Model, Node, Value, tensorType } from "../ir/graph.ts";
import type { DType } from "../ir/dtype.ts";
import { parseModel } from "../ir/parse.ts";
import { inferNode } from "../ir/infer.ts";
import { interpret } from "../ir/interpret.ts";
import { Tensor } from "../ir/tensor.ts";
import { ELEMENTWISE_OPS } from "../ir/ops/elementwise.ts";
import { type Call, type Term, PROGRAM_OPS, parseProgram, printProgram, programAttrOk } from "../ir/ops/fused-elementwise.ts";
import { TERM_BUILDERS } from "../codegen/kernels/fused-elementwise.ts";
import { lower } from "../codegen/lower.ts";
import { C_TARGET } from "../targets/c.ts";
import { runOnC } from "../conformance/c-target.ts";
import { parseCases, randomInputs } from "./helpers/golden.ts";

const raise = (m: string): never => {
  throw new Error(m);
};

/** A one-node graph applying `program` to inputs of the given types. */
function fusedGraph(program: string, inputs: string, out = "f32[4]"): Graph {
  const decls = inputs.split(";").map((s) => s.trim()).filter(Boolean);
  const names = decls.map((_, i) => `%i${i}`);
  return parseModel(`graph @g(${decls.map((d, i) => `${names[i]}: ${d}`).join(", ")}) -> (%y) {
  %y: ${out} = FusedElementwise(${names.join(", ")}) {program=${JSON.stringify(program)}} "fe"
  return %y
}`).graph;
}

describe("program notation", () => {
  it("prints and parses back the same programs", () => {
    for (const p of [
      "Relu(Add(Mul($0, Sigmoid($0)), $1))",
      "Clip(Sub($0, $1), _, $2)",
      "LeakyRelu{alpha=0.2}(Gelu{approximate=tanh}($0))",
      "HardSigmoid{alpha=0.3, beta=nan}(Elu{alpha=-inf}($0))",
      "Where(And(Less($0, $1), Not($2)), Max($0, $1, $0), Mean($1))",
    ]) {
      const t = parseProgram(p, Math.max(...[...p.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]))) + 1, raise);
      expect(printProgram(t)).toBe(p);
    }
    // free whitespace; f32 attribute values read as text IR reads them
    const t = parseProgram("  LeakyRelu { alpha = 0.01 } ( $0 ) ", 1, raise);
    expect(t.attrs.alpha).toBe(Math.fround(0.01));
    expect(printProgram(t)).toBe("LeakyRelu{alpha=0.01}($0)");
  });

  it("accepts only attribute values that read back exactly", () => {
    expect(programAttrOk("LeakyRelu", "alpha", Math.fround(0.1))).toBe(true);
    // the f64 0.1 prints as "0.1", which reads as the f32 0.1: declined
    expect(programAttrOk("LeakyRelu", "alpha", 0.1)).toBe(false);
    expect(programAttrOk("LeakyRelu", "alpha", 1 / 3)).toBe(true);
    expect(programAttrOk("LeakyRelu", "alpha", NaN)).toBe(true);
    expect(programAttrOk("LeakyRelu", "beta", 0.1)).toBe(false);
    expect(programAttrOk("Gelu", "approximate", "tanh")).toBe(true);
    expect(programAttrOk("Gelu", "approximate", "a b")).toBe(false);
  });

  it("rejects malformed programs with the offset", () => {
    const cases: [string, number, RegExp][] = [
      ["Foo($0)", 1, /op 'Foo' is not an elementwise op a program may use .* at offset 0/],
      ["Conv($0, $1)", 2, /op 'Conv' is not an elementwise op/],
      ["FusedElementwise($0)", 1, /op 'FusedElementwise' is not an elementwise op/],
      ["Add($0)", 1, /Add takes 2 operands, found 1 at offset 0/],
      ["Relu($0, $1)", 2, /Relu takes 1 operand, found 2/],
      ["Clip($0, $1, $2, $3)", 4, /Clip takes 1 to 3 operands, found 4/],
      ["Add($0, $3)", 2, /\$3 is out of range: the node has 2 inputs at offset 8/],
      ["Relu($0)", 2, /input 1 is not used/],
      ["Add($0, $1", 2, /expected ',' or '\)', found the end at offset 10/],
      ["Add($0 $1)", 2, /expected ',' or '\)', found '\$' at offset 7/],
      ["Elu{alpha=1.0 gamma=1.0}($0)", 1, /expected ',' or '}', found 'g' at offset 14/],
      ["Relu($0))", 1, /unexpected '\)' after the expression at offset 8/],
      ["$0", 1, /must apply an op/],
      ["", 1, /expected a name, found the end/],
      ["Add($0, _)", 1, /'_' \(omitted operand\) is only allowed for Clip's min and max at offset 8/],
      ["Clip($0, Neg($1))", 2, /Clip's min and max must be inputs \(\$k\) or '_', found Neg/],
      ["Relu{alpha=1.0}($0)", 1, /Relu has no attribute 'alpha' at offset 5/],
      ["Elu{alpha=1.0, alpha=2.0}($0)", 1, /Elu attribute 'alpha' is given twice/],
      ["Elu{alpha=x}($0)", 1, /expected a number at offset 10/],
      ["Gelu{approximate=1}($0)", 1, /expected a name, found '1'/],
      ["Relu($x)", 1, /expected an input number after '\$'/],
      [`${"Neg(".repeat(600)}$0${")".repeat(600)}`, 1, /nesting deeper than 512/],
    ];
    for (const [p, n, re] of cases) expect(() => parseProgram(p, n, raise), p).toThrow(re);
  });

  it("names the node in inference, interpreter and compile errors", () => {
    expect(() => inferNode(fusedGraph("Add($0, $2)", "f32[4]; f32[4]").nodes[0]!)).toThrow(
      /^node 'fe' \(FusedElementwise\): program "Add\(\$0, \$2\)": \$2 is out of range/,
    );
    // dtypes: each op's own inference, then the program's float dtype or bool everywhere
    expect(() => inferNode(fusedGraph("Add($0, $1)", "f32[4]; f16[4]").nodes[0]!)).toThrow(
      /^node 'fe' \(FusedElementwise\): in Add of the program: input 1 must have dtype f32 like input 0, found f16/,
    );
    expect(() => inferNode(fusedGraph("Less($0, $1)", "f32[4]; f32[4]").nodes[0]!)).toThrow(/the program must compute a float tensor, found bool/);
    expect(() => inferNode(fusedGraph("Where(Less($0, $1), $2, $2)", "f16[4]; f16[4]; f32[4]").nodes[0]!)).toThrow(
      /input 0 must have dtype f32 \(the program's\) or bool, found f16/,
    );
    expect(() => inferNode(fusedGraph("Add($0, $1)", "i64[4]; i64[4]").nodes[0]!)).toThrow(/must compute a float tensor, found i64/);
    // shapes: broadcast errors of the op, and the broadcast-of-all-inputs rule
    expect(() => inferNode(fusedGraph("Add($0, $1)", "f32[2,4]; f32[3]", "f32[2,4]").nodes[0]!)).toThrow(
      /^node 'fe' \(FusedElementwise\): inputs 0 \[2,4\] and 1 \[3\] do not broadcast/,
    );
    expect(() => inferNode(fusedGraph("Clip($0, $1, $2)", "f32[]; f32[1]; f32[1]", "f32[]").nodes[0]!)).toThrow(
      /the program computes shape \[\], not the broadcast of its inputs \[1\]/,
    );
    expect(inferNode(fusedGraph("Mul(Sigmoid($0), $1)", "f32[2,1,4]; f32[3,1]").nodes[0]!)).toEqual([tensorType("f32", [2, 3, 4])]);
    const bad = fusedGraph("Relu(Sub($0))", "f32[4]");
    expect(() => interpret(bad, [Tensor.zeros("f32", [4])])).toThrow(/^node 'fe' \(FusedElementwise\): program "Relu\(Sub\(\$0\)\)": Sub takes 2 operands, found 1/);
    expect(() => lower(bad, C_TARGET.renderer())).toThrow(/node 'fe' \(FusedElementwise\): program "Relu\(Sub\(\$0\)\)": Sub takes 2 operands/);
  });
});

describe("program ops", () => {
  it("each has a reference op and a C expression", () => {
    const ew = ELEMENTWISE_OPS as Readonly<Record<string, unknown>>;
    for (const op of Object.keys(PROGRAM_OPS)) {
      expect(ew[op], op).toBeDefined();
      expect(TERM_BUILDERS[op], op).toBeDefined();
    }
    expect(Object.keys(TERM_BUILDERS).sort()).toEqual(Object.keys(PROGRAM_OPS).sort());
  });
});

describe("the reference implementation", () => {
  it("gives bit-identical results to the unfused graphs of the golden cases", () => {
    const cases = parseCases(join(import.meta.dirname, "passes", "fuse-elementwise.ir"), "fuse-elementwise");
    let checked = 0;
    for (const c of cases) {
      const before = parseModel(c.input).graph;
      const inputs = randomInputs(before);
      if (!inputs) continue;
      const want = interpret(before, inputs) as Tensor[];
      const got = interpret(parseModel(c.expected).graph, inputs) as Tensor[];
      got.forEach((g, i) => {
        expect(g.dtype, c.title).toBe(want[i]!.dtype);
        expect(g.shape, c.title).toEqual(want[i]!.shape);
        expect(Array.from(g.data).every((v, k) => Object.is(v, want[i]!.data[k])), c.title).toBe(true);
      });
      checked++;
    }
    expect(checked).toBeGreaterThan(10);
  });
});

// ---------------------------------------------------------------------------------------------
// every op in C: a program per op over p (in (0.05, 0.95)), s (in [-3, 3)), b (bool) and scalar
// constants lo, hi; %name marks an input (numbered by first use)

const OP_PROGRAMS: Readonly<Record<string, string>> = {
  Pow: "Pow(Add(%p, %p), %s)", PRelu: "PRelu(Add(%s, %p), %p)", Clip: "Clip(Add(%s, %p), %lo, %hi)",
  Where: "Where(%b, Add(%s, %p), %p)", IsNaN: "Where(IsNaN(Log(%s)), %p, %s)", Not: "Where(Not(%b), %p, %s)",
  Log: "Log(Mul(%p, %p))", Sqrt: "Sqrt(Mul(%p, %p))", Asin: "Asin(Mul(%p, %p))", Acos: "Acos(Mul(%p, %p))",
  Atanh: "Atanh(Mul(%p, %p))", Acosh: "Acosh(Reciprocal(Mul(%p, %p)))",
};
const BINARY = new Set(["Add", "Sub", "Mul", "Div"]);
const VARIADIC = new Set(["Max", "Min", "Sum", "Mean"]);
const COMPARE = new Set(["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"]);
const LOGIC = new Set(["And", "Or", "Xor"]);

function programFor(op: string): string {
  if (OP_PROGRAMS[op]) return OP_PROGRAMS[op]!;
  if (BINARY.has(op)) return `${op}(Add(%s, %p), %s)`;
  if (VARIADIC.has(op)) return `${op}(Add(%s, %p), %s, %p)`;
  if (COMPARE.has(op)) return `Where(${op}(Round(%s), Floor(%s)), %p, %s)`;
  if (LOGIC.has(op)) return `Where(${op}(%b, Less(%s, %p)), %p, %s)`;
  const attrs = op === "Gelu" ? "{approximate=tanh}" : op === "Elu" || op === "Celu" ? "{alpha=0.7}" : op === "Shrink" ? "{bias=0.2, lambd=0.4}" : "";
  return `${op}${attrs}(Add(%s, %p))`;
}

/** The program over $k and the input names, in first-use order. */
function numbered(template: string): { program: string; names: string[] } {
  const names: string[] = [];
  const program = template.replace(/%([a-z]+)/g, (_, n: string) => {
    if (!names.includes(n)) names.push(n);
    return `$${names.indexOf(n)}`;
  });
  return { program, names };
}

/** One graph computing every op's program: fused (one node each) or unfused (every intermediate a graph output). */
function opsGraph(dt: DType, fused: boolean): Graph {
  const g = new Graph("ops");
  const vals: Record<string, Value> = {
    p: new Value("p", tensorType(dt, [100])),
    s: new Value("s", tensorType(dt, [10, 100])),
    b: new Value("b", tensorType("bool", [10, 1])),
  };
  g.inputs = [vals.p!, vals.s!, vals.b!];
  for (const [name, v] of [["lo", -0.5], ["hi", 0.75]] as const) {
    const t = Tensor.zeros(dt, []);
    t.data[0] = v;
    vals[name] = new Value(name, tensorType(dt, []), t);
    g.constants.push(vals[name]!);
  }
  for (const op of Object.keys(PROGRAM_OPS).sort()) {
    const { program, names } = numbered(programFor(op));
    const ins = names.map((n) => vals[n]!);
    if (fused) {
      const node = new Node("FusedElementwise", op, ins, [], { program });
      const y = new Value(`y_${op}`, inferNode(node)[0]!);
      node.outputs = [y];
      y.producer = node;
      g.nodes.push(node);
      g.outputs.push(y);
      continue;
    }
    let k = 0;
    const expand = (t: Term): Value | undefined => {
      if (t.kind === "omitted") return undefined;
      if (t.kind === "input") return ins[t.index]!;
      const args = t.args.map(expand);
      const node = new Node(t.op as never, `${op}_${k}`, args, [], { ...t.attrs });
      const y = new Value(`${op}_${k++}`, inferNode(node)[0]!);
      node.outputs = [y];
      y.producer = node;
      g.nodes.push(node);
      return y;
    };
    const root = parseProgram(program, ins.length, raise) as Call;
    const y = expand(root)!;
    // intermediates are graph outputs too, so no pass fuses them; the root goes last
    const inner = g.nodes.filter((n) => n.name.startsWith(`${op}_`) && n.outputs[0] !== y).map((n) => n.outputs[0]!);
    g.outputs.push(...inner);
    y.name = `y_${op}`;
    g.outputs.push(y);
  }
  return g;
}

function opsInputs(dt: DType): Tensor[] {
  let s = 12345;
  const rnd = (): number => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 4294967296;
  };
  const t = (d: DType, shape: number[], f: () => number): Tensor => {
    const x = Tensor.zeros(d, shape);
    for (let i = 0; i < x.size; i++) x.data[i] = f();
    return Tensor.fromRaw(d, shape, x.raw()); // rounded to the dtype
  };
  return [t(dt, [100], () => 0.05 + 0.9 * rnd()), t(dt, [10, 100], () => Math.round((rnd() * 6 - 3) * 8) / 8 + (rnd() < 0.5 ? 0 : rnd() / 8)), t("bool", [10, 1], () => (rnd() < 0.5 ? 1 : 0))];
}

const byName = (g: Graph, outs: readonly unknown[]): Map<string, Tensor> => new Map(g.outputs.map((v, i) => [v.name, outs[i] as Tensor]));

describe("the C kernel", () => {
  for (const dt of ["f32", "f64", "f16"] as const) {
    it(`computes every program op in ${dt} exactly as the unfused kernels do, and close to the reference`, () => {
      const inputs = opsInputs(dt);
      const model = (g: Graph): Model => ({ graph: g, opsets: {}, format: "text", meta: {} });
      const ref = byName(opsGraph(dt, true), interpret(opsGraph(dt, true), inputs));
      const fusedGraphC = opsGraph(dt, true);
      const fused = byName(fusedGraphC, runOnC(model(fusedGraphC), inputs, { cflags: ["-O2", "-march=native"] }));
      const plainGraph = opsGraph(dt, false);
      const plain = byName(plainGraph, runOnC(model(plainGraph), inputs, { cflags: ["-O2", "-march=native"] }));
      // what ran: one FusedElementwise per op, against single-op kernels only
      expect(fusedGraphC.nodes.filter((n) => n.op === "FusedElementwise").length).toBe(Object.keys(PROGRAM_OPS).length);
      expect(plainGraph.nodes.filter((n) => n.op === "FusedElementwise")).toEqual([]);
      const rtol = dt === "f16" ? 2e-3 : 1e-4;
      for (const op of Object.keys(PROGRAM_OPS)) {
        const f = fused.get(`y_${op}`)!;
        const u = plain.get(`y_${op}`)!;
        const r = ref.get(`y_${op}`)!;
        const diff = Array.from(f.data).findIndex((v, k) => !Object.is(v, u.data[k]));
        expect(diff, `${op} (${dt}): element ${diff}: fused ${f.data[diff]} vs unfused ${u.data[diff]}`).toBe(-1);
        let scale = 0;
        for (const v of r.data) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
        r.data.forEach((e, k) => {
          if (!Number.isFinite(e)) expect(f.data[k], `${op} (${dt}) element ${k}`).toBe(e);
          else expect(Math.abs(f.data[k]! - e), `${op} (${dt}) element ${k}: ${f.data[k]} vs ${e}`).toBeLessThanOrEqual(rtol * scale + 1e-5);
        });
      }
    }, 120_000);
  }
});
