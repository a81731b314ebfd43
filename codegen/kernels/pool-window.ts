/**
 * C kernels: windowed pooling (MaxPool with Indices, AveragePool, LpPool) and the global pools.
 *
 * Windowed pools run one task per output row (n·c, od, oh), spatial ranks 1..3 normalized to 3-D.
 * Each row's output columns split into three runs: the middle run, where the window lies inside
 * the input in W (and the row is inside in D and H), uses compile-time loop bounds the C compiler
 * unrolls; the edges compute the valid tap range per output.
 */
import type { Emitter, EmitNode, Helper } from "../kernel.ts";
import type { OpKind } from "../../ir/ops.ts";
import { geometry, spatialAttrs, win3 } from "../../ir/ops/nn-common.ts";
import { dlit, ind, isInt, loadDouble, storeDouble } from "./pool-util.ts";
import { rejectChannelsLast } from "./nn.ts";

type PoolKind = "avg" | "max" | "lp";

/** C statements computing the tap range [k<v>0, k<v>1) of one spatial dim and (opt.) its padded count. */
function tapRange(v: string, o: string, I: number, K: number, s: number, d: number, pb: number, pe: number, withPadCount: boolean): string {
  const lines = [
    `const int64_t i${v}0 = ${o} * ${s} - ${pb};`,
    `const int64_t k${v}0 = i${v}0 < 0 ? (-i${v}0 + ${d - 1}) / ${d} : 0;`,
    `int64_t k${v}1 = (${I} - i${v}0 + ${d - 1}) / ${d};`,
    `if (k${v}1 > ${K}) k${v}1 = ${K};`,
    `if (${I} - i${v}0 <= 0 || k${v}1 < k${v}0) k${v}1 = k${v}0;`,
  ];
  if (withPadCount) {
    // taps with 0 <= o*s + k*d < I + pb + pe
    lines.push(
      `int64_t c${v} = (${I + pb + pe} - ${o} * ${s} + ${d - 1}) / ${d};`,
      `if (${I + pb + pe} - ${o} * ${s} <= 0) c${v} = 0;`,
      `if (c${v} > ${K}) c${v} = ${K};`,
    );
  }
  return lines.join("\n");
}

function windowPool(kind: PoolKind): Emitter {
  return (n: EmitNode) => {
    rejectChannelsLast(n);
    const { node, attrs, inputs, outputs, r, fail } = n;
    const x = inputs[0]!;
    const y = outputs[0]!;
    const rank = x.shape.length;
    if (rank < 3 || rank > 5) fail(`input expected rank 3 to 5, found ${rank}`);
    const inSp = x.shape.slice(2);
    const nsp = inSp.length;
    const at = spatialAttrs(node, attrs, nsp, undefined);
    const g = geometry(inSp, at);
    if (g.out.some((o, i) => o !== y.shape[2 + i])) fail(`output shape [${y.shape.join(",")}] differs from the window geometry [${g.out.join(",")}]`);
    const w = win3(node, inSp, g.out, at.kernel, at.strides, at.dilations, g.padBegin);
    const pe = [...new Array<number>(3 - nsp).fill(0), ...g.padEnd];
    const [ID, IH, IW] = w.inp;
    const [OD, OH, OW] = w.out;
    const [KD, KH, KW] = w.k;
    const [sd, sh, sw] = w.s;
    const [dd, dh, dw] = w.d;
    const [pd, ph, pw] = w.p;
    const NC = x.shape[0]! * x.shape[1]!;
    const plane = ID * IH * IW;
    const countPad = kind === "avg" && attrs.int("count_include_pad") !== 0;
    const p = kind === "lp" ? attrs.int("p") : 2;
    const withIdx = kind === "max" && outputs.length > 1;
    const colMajor = withIdx && attrs.int("storage_order") === 1;
    const dt = x.dtype;
    const T = r.storageType(dt);
    const CT = r.computeType(dt);
    const helpers = new Set<string>([...r.convHelpers(dt), ...r.convHelpers(y.dtype)]);
    const floatLike = !isInt(dt);

    // the output columns whose window is inside the input in W
    const owA = Math.min(OW, Math.ceil(pw / sw));
    const owB = Math.max(owA, Math.min(OW, Math.ceil((IW + pw - (KW - 1) * dw) / sw)));

    const pos = (kd: string, kh: string, kw: string): string =>
      `(id0 + ${kd} * ${dd}) * ${IH * IW} + (ih0 + ${kh} * ${dh}) * ${IW} + iw0 + ${kw} * ${dw}`;

    /** The statements computing output column `ow` given loop bounds. */
    const element = (b: { kd: [string, string]; kh: [string, string]; kw: [string, string] }, fast: boolean): string => {
      const loops = (inner: string): string =>
        `for (int64_t kd = ${b.kd[0]}; kd < ${b.kd[1]}; kd++) {\n` +
        `  for (int64_t kh = ${b.kh[0]}; kh < ${b.kh[1]}; kh++) {\n` +
        `    for (int64_t kw = ${b.kw[0]}; kw < ${b.kw[1]}; kw++) {\n` +
        `      const int64_t q = ${pos("kd", "kh", "kw")};\n` +
        `${ind(inner, 6)}\n    }\n  }\n}`;
      const lines: string[] = [tapRange("w", "ow", IW, KW, sw, dw, pw, pe[2]!, countPad)];
      if (kind === "max") {
        if (fast && !withIdx) {
          // the window is non-empty: start from its first element (the reference takes the first tap, NaN or not)
          lines.push(`${CT} acc = ${r.load(dt, `xp[${pos("0", "0", "0")}]`)};`);
          lines.push(loops(`const ${CT} v = ${r.load(dt, "xp[q]")};\nacc = v > acc ? v : acc;`));
        } else {
          lines.push(`${CT} acc = ${floatLike ? r.literal(dt, -Infinity) : `(${CT})0`};`, "int64_t best = -1;");
          lines.push(loops(`const ${CT} v = ${r.load(dt, "xp[q]")};\nif (v > acc || best < 0) { acc = v; best = q; }`));
        }
        lines.push(`yp[ow] = ${r.store(dt, "acc")};`);
        if (withIdx) {
          let flat = "best";
          if (colMajor) {
            const bd = `(best / ${IH * IW})`;
            const bh = `((best / ${IW}) % ${IH})`;
            const bw = `(best % ${IW})`;
            flat = nsp === 1 ? bw : nsp === 2 ? `${bh} + ${bw} * ${IH}` : `${bd} + ${bh} * ${ID} + ${bw} * ${ID * IH}`;
            flat = `(best < 0 ? best : ${flat})`;
          }
          lines.push(`ip[ow] = nc * ${plane} + ${flat};`);
        }
      } else {
        const term = kind === "avg" ? "v" : p === 1 ? "fabs(v)" : p === 2 ? "v * v" : `pow(fabs(v), ${dlit(p)})`;
        lines.push("double acc = 0;");
        lines.push(loops(`const double v = ${loadDouble(r, dt, "xp[q]")};\nacc += ${term};`));
        let res: string;
        if (kind === "avg") {
          const div = countPad ? "(double)(cd * ch * cw)" : "(double)((kd1 - kd0) * (kh1 - kh0) * (kw1 - kw0))";
          res = `acc / ${div}`;
        } else res = p === 1 ? "acc" : p === 2 ? "sqrt(acc)" : `pow(acc, ${dlit(1 / p)})`;
        lines.push(`yp[ow] = ${storeDouble(r, dt, res)};`);
      }
      return lines.join("\n");
    };

    const generic = element({ kd: ["kd0", "kd1"], kh: ["kh0", "kh1"], kw: ["kw0", "kw1"] }, false);
    const fast = element({ kd: ["0", String(KD)], kh: ["0", String(KH)], kw: ["0", String(KW)] }, true);
    // The interior run with the taps outermost: each tap updates a run of accumulators (the same
    // per-element order as the reference, but independent across columns, so the compiler vectorizes).
    let vectorized: string | undefined;
    if (!withIdx && owB > owA && OW <= 2048) {
      const AT = kind === "max" ? CT : "double";
      const v = kind === "max" ? r.load(dt, `src[ow * ${sw}]`) : loadDouble(r, dt, `src[ow * ${sw}]`);
      const update = kind === "max" ? `{ const ${CT} v = ${v}; acc[ow] = v > acc[ow] ? v : acc[ow]; }`
        : kind === "avg" ? `acc[ow] += ${v};`
        : p === 1 ? `acc[ow] += fabs(${v});` : p === 2 ? `{ const double v = ${v}; acc[ow] += v * v; }` : `acc[ow] += pow(fabs(${v}), ${dlit(p)});`;
      const first = `xp[id0 * ${IH * IW} + ih0 * ${IW} + ow * ${sw} - ${pw}]`;
      const res = kind === "max" ? r.store(dt, "acc[ow]")
        : kind === "avg" ? storeDouble(r, dt, `acc[ow] / ${dlit(KD * KH * KW)}`)
        : storeDouble(r, dt, p === 1 ? "acc[ow]" : p === 2 ? "sqrt(acc[ow])" : `pow(acc[ow], ${dlit(1 / p)})`);
      vectorized = [
        `if (b > a) {`,
        `  ${AT} acc[${OW}];`,
        `  for (ow = a; ow < b; ow++) acc[ow] = ${kind === "max" ? r.load(dt, first) : "0"};`,
        `  for (int64_t kd = 0; kd < ${KD}; kd++) {`,
        `    for (int64_t kh = 0; kh < ${KH}; kh++) {`,
        `      for (int64_t kw = 0; kw < ${KW}; kw++) {`,
        `        const ${T}* src = xp + (id0 + kd * ${dd}) * ${IH * IW} + (ih0 + kh * ${dh}) * ${IW} + kw * ${dw} - ${pw};`,
        `        for (ow = a; ow < b; ow++) ${update}`,
        `      }`,
        `    }`,
        `  }`,
        `  for (ow = a; ow < b; ow++) yp[ow] = ${res};`,
        `}`,
        `ow = b;`,
      ].join("\n");
    }
    const body = [
      `for (int64_t t = task_begin; t < task_end; t++) {`,
      `  const int64_t nc = t / ${OD * OH};`,
      `  const int64_t od = (t / ${OH}) % ${OD};`,
      `  const int64_t oh = t % ${OH};`,
      ind(tapRange("d", "od", ID, KD, sd, dd, pd, pe[0]!, countPad)),
      ind(tapRange("h", "oh", IH, KH, sh, dh, ph, pe[1]!, countPad)),
      `  const ${T}* xp = x0 + nc * ${plane};`,
      `  ${T}* yp = y0 + t * ${OW};`,
      ...(withIdx ? [`  int64_t* ip = y1 + t * ${OW};`] : []),
      `  const int inside = kd0 == 0 && kd1 == ${KD} && kh0 == 0 && kh1 == ${KH};`,
      `  const int64_t a = inside ? ${owA} : ${OW}, b = inside ? ${owB} : ${OW};`,
      `  int64_t ow = 0;`,
      `  for (; ow < a; ow++) {`,
      ind(generic, 4),
      `  }`,
      ...(vectorized ? [ind(vectorized)] : [
        `  for (; ow < b; ow++) {`,
        ind(fast, 4),
        `  }`,
      ]),
      `  for (; ow < ${OW}; ow++) {`,
      ind(generic, 4),
      `  }`,
      `}`,
    ].join("\n");
    if (withIdx && outputs[1]!.dtype !== "i64") fail(`Indices expected i64, found ${outputs[1]!.dtype}`);
    return { kernels: [{ tasks: NC * OD * OH, body, helpers: [...helpers] }] };
  };
}

function globalPool(kind: PoolKind): Emitter {
  return (n: EmitNode) => {
    rejectChannelsLast(n);
    const { attrs, inputs, outputs, r, fail } = n;
    const x = inputs[0]!;
    const y = outputs[0]!;
    if (x.shape.length < 2) fail(`input expected rank >= 2, found ${x.shape.length}`);
    const NC = x.shape[0]! * x.shape[1]!;
    const plane = x.shape.slice(2).reduce((a, b) => a * b, 1);
    const dt = x.dtype;
    const T = r.storageType(dt);
    const CT = r.computeType(dt);
    const p = kind === "lp" ? attrs.int("p") : 1;
    let inner: string;
    if (plane === 0) {
      inner = `y0[t] = ${kind === "max" ? r.store(dt, r.literal(dt, isInt(dt) ? 0 : -Infinity)) : storeDouble(r, dt, kind === "avg" ? "(double)NAN" : "0.0")};`;
    } else if (kind === "max") {
      inner = [
        `const ${T}* xp = x0 + t * ${plane};`,
        `${CT} acc = ${r.load(dt, "xp[0]")};`,
        `for (int64_t j = 1; j < ${plane}; j++) {`,
        `  const ${CT} v = ${r.load(dt, "xp[j]")};`,
        `  acc = (v > acc || v != v) ? v : acc;`,
        `}`,
        `y0[t] = ${r.store(dt, "acc")};`,
      ].join("\n");
    } else if (kind === "avg" && dt === "f32" && plane >= 16) {
      // blocks of up to 256 (whole 16s) summed in 16 float lanes (vectorizable, short error chains),
      // blocks and the last < 16 elements added in double
      inner = [
        `const float* xp = x0 + t * ${plane};`,
        `double acc = 0;`,
        `int64_t j = 0;`,
        `while (j + 16 <= ${plane}) {`,
        `  const int64_t e = j + 256 <= ${plane} ? j + 256 : j + (${plane} - j) / 16 * 16;`,
        `  float a[16] = {0};`,
        `  for (int64_t k = j; k < e; k += 16)`,
        `    for (int l = 0; l < 16; l++) a[l] += xp[k + l];`,
        `  for (int l = 0; l < 8; l++) a[l] += a[l + 8];`,
        `  acc += (double)((a[0] + a[4]) + (a[1] + a[5])) + (double)((a[2] + a[6]) + (a[3] + a[7]));`,
        `  j = e;`,
        `}`,
        `for (; j < ${plane}; j++) acc += xp[j];`,
        `y0[t] = (float)(acc / ${dlit(plane)});`,
      ].join("\n");
    } else {
      const term = kind === "avg" || p === 1 ? (kind === "avg" ? "v" : "fabs(v)") : p === 2 ? "v * v" : `pow(fabs(v), ${dlit(p)})`;
      const res = kind === "avg" ? `acc / ${dlit(plane)}` : p === 1 ? "acc" : p === 2 ? "sqrt(acc)" : `pow(acc, ${dlit(1 / p)})`;
      inner = [
        `const ${T}* xp = x0 + t * ${plane};`,
        `double acc = 0;`,
        `for (int64_t j = 0; j < ${plane}; j++) {`,
        `  const double v = ${loadDouble(r, dt, "xp[j]")};`,
        `  acc += ${term};`,
        `}`,
        `y0[t] = ${storeDouble(r, dt, res)};`,
      ].join("\n");
    }
    const body = `for (int64_t t = task_begin; t < task_end; t++) {\n${ind(inner)}\n}`;
    return { kernels: [{ tasks: NC, body, helpers: [...new Set([...r.convHelpers(dt), ...r.convHelpers(y.dtype)])] }] };
  };
}

export const POOL_WINDOW_KERNELS: Partial<Record<OpKind, Emitter>> = {
  MaxPool: windowPool("max"),
  AveragePool: windowPool("avg"),
  LpPool: windowPool("lp"),
  GlobalMaxPool: globalPool("max"),
  GlobalAveragePool: globalPool("avg"),
  GlobalLpPool: globalPool("lp"),
};

export const POOL_WINDOW_HELPERS: Record<string, Helper> = {};
