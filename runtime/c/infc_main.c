/* infc_main.c — a runner for a compiled artifact:
 *
 *   model_run model.infc [--threads N] [--bench ITERS | --profile ITERS] in0.bin ... --out out0.bin ...
 *
 * Inputs and outputs are raw little-endian tensors in the model's order; every input file's size
 * must equal the input's byte size. With --bench, missing inputs are zero-filled, the model runs
 * a few warm-up iterations, then ITERS timed ones, and the median latency is printed. --profile
 * times every step on its own (ITERS rounds after warm-up) and prints one line per step,
 * `step <index> <median_us>`, then `total_us <sum of medians>`. Exit codes:
 * 0 ok, 1 a runtime error (the message names the file and the status), 2 bad usage. */
#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200112L
#undef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200112L
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "infc.h"

static const char* USAGE = "usage: model_run model.infc [--threads N] [--bench ITERS | --profile ITERS] in0.bin ... [--out out0.bin ...]\n";

static void* alloc64(uint64_t n) {
  void* p = NULL;
  if (posix_memalign(&p, 64, (size_t)((n + 63) / 64 * 64 + 64))) return NULL;
  memset(p, 0, (size_t)((n + 63) / 64 * 64 + 64));
  return p;
}

static int read_exact(const char* path, void* dst, uint64_t n, const char* what, const char* name) {
  FILE* f = fopen(path, "rb");
  size_t got;
  int extra;
  if (!f) {
    fprintf(stderr, "model_run: cannot open %s '%s'\n", what, path);
    return 1;
  }
  got = n ? fread(dst, 1, (size_t)n, f) : 0;
  extra = fgetc(f) != EOF;
  fclose(f);
  if (got != n || extra) {
    fprintf(stderr, "model_run: %s '%s' for '%s': expected %llu bytes, found %s\n", what, path, name, (unsigned long long)n,
            got != n ? "fewer" : "more");
    return 1;
  }
  return 0;
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return (x > y) - (x < y);
}

/* Times each step alone: `iters` rounds over all steps (after 3 warm-up runs); prints medians. */
static infc_status run_profile(infc_model* m, void* arena, void** bufs, uint32_t ins, infc_pool* pool, int iters) {
  uint32_t steps = infc_model_step_count(m), k;
  double* t = (double*)calloc((size_t)steps * (size_t)iters + 1, sizeof(double));
  double total = 0;
  infc_status st = INFC_OK;
  int it;
  if (!t) return INFC_STATUS_OUT_OF_MEMORY;
  for (it = 0; it < 3 && !st; it++) st = infc_model_run(m, arena, (const void* const*)bufs, bufs + ins, pool);
  for (it = 0; it < iters && !st; it++) {
    for (k = 0; k < steps && !st; k++) {
      double t0 = now_ms();
      st = infc_model_run_steps(m, arena, (const void* const*)bufs, bufs + ins, pool, k, k + 1);
      t[(size_t)k * (size_t)iters + (size_t)it] = now_ms() - t0;
    }
  }
  for (k = 0; k < steps && !st; k++) {
    double* row = t + (size_t)k * (size_t)iters;
    qsort(row, (size_t)iters, sizeof(double), cmp_double);
    printf("step %u %.3f\n", k, row[iters / 2] * 1e3);
    total += row[iters / 2] * 1e3;
  }
  if (!st) printf("total_us %.3f threads %d\n", total, infc_pool_thread_count(pool));
  free(t);
  return st;
}

int main(int argc, char** argv) {
  const char* path = NULL;
  const char** in_files = (const char**)calloc((size_t)argc, sizeof(char*));
  const char** out_files = (const char**)calloc((size_t)argc, sizeof(char*));
  int n_in = 0, n_out = 0, to_out = 0, threads = 1, bench = 0, profile = 0, i, rc = 1;
  uint32_t k, ins, outs;
  infc_model* m = NULL;
  infc_pool* pool = NULL;
  infc_status st;
  void* arena = NULL;
  void** bufs = NULL;
  if (!in_files || !out_files) return 1;
  for (i = 1; i < argc; i++) {
    const char* a = argv[i];
    if (!strcmp(a, "--threads") || !strcmp(a, "--bench") || !strcmp(a, "--profile")) {
      char* end;
      long v = i + 1 < argc ? strtol(argv[i + 1], &end, 10) : -1;
      if (i + 1 >= argc || *end || v < (a[2] == 't' ? 0 : 1) || v > 1000000) {
        fprintf(stderr, "model_run: %s needs a number\n%s", a, USAGE);
        return 2;
      }
      if (a[2] == 't') threads = (int)v;
      else if (a[2] == 'b') bench = (int)v;
      else bench = profile = (int)v;
      i++;
    } else if (!strcmp(a, "--out")) {
      to_out = 1;
    } else if (!strcmp(a, "--help")) {
      fputs(USAGE, stdout);
      return 0;
    } else if (a[0] == '-' && a[1] == '-') {
      fprintf(stderr, "model_run: unknown option '%s'\n%s", a, USAGE);
      return 2;
    } else if (!path) {
      path = a;
    } else if (to_out) {
      out_files[n_out++] = a;
    } else {
      in_files[n_in++] = a;
    }
  }
  if (!path) {
    fputs(USAGE, stderr);
    return 2;
  }
  st = infc_model_load_file(path, &m);
  if (st) {
    fprintf(stderr, "model_run: cannot load '%s': %s\n", path, infc_status_string(st));
    return 1;
  }
  ins = infc_model_input_count(m);
  outs = infc_model_output_count(m);
  if ((uint32_t)n_in != ins && !(bench && n_in == 0)) {
    fprintf(stderr, "model_run: the model has %u inputs, %d files given\n", ins, n_in);
    rc = 2;
    goto done;
  }
  if (n_out && (uint32_t)n_out != outs) {
    fprintf(stderr, "model_run: the model has %u outputs, %d --out files given\n", outs, n_out);
    rc = 2;
    goto done;
  }
  bufs = (void**)calloc((size_t)ins + outs + 1, sizeof(void*));
  arena = alloc64(infc_model_arena_size(m));
  if (!bufs || !arena) {
    fprintf(stderr, "model_run: out of memory\n");
    goto done;
  }
  for (k = 0; k < ins + outs; k++) {
    infc_tensor_info info;
    if (k < ins) infc_model_input_info(m, k, &info);
    else infc_model_output_info(m, k - ins, &info);
    bufs[k] = alloc64(info.bytes);
    if (!bufs[k]) {
      fprintf(stderr, "model_run: out of memory\n");
      goto done;
    }
    if (k < ins && n_in && read_exact(in_files[k], bufs[k], info.bytes, "input", info.name)) goto done;
  }
  if (threads != 1) {
    st = infc_pool_create(threads, &pool);
    if (st) {
      fprintf(stderr, "model_run: cannot create a pool of %d threads: %s\n", threads, infc_status_string(st));
      goto done;
    }
  }
  st = infc_model_prepare(m, pool); /* constant weights repacked once, before any timing */
  if (st) goto done;
  if (profile) {
    st = run_profile(m, arena, bufs, ins, pool, profile);
  } else if (bench) {
    double* t = (double*)calloc((size_t)bench, sizeof(double));
    int it;
    if (!t) goto done;
    for (it = 0; it < 3 && !st; it++) st = infc_model_run(m, arena, (const void* const*)bufs, bufs + ins, pool);
    for (it = 0; it < bench && !st; it++) {
      double t0 = now_ms();
      st = infc_model_run(m, arena, (const void* const*)bufs, bufs + ins, pool);
      t[it] = now_ms() - t0;
    }
    if (!st) {
      qsort(t, (size_t)bench, sizeof(double), cmp_double);
      printf("median_ms %.6f min_ms %.6f iters %d threads %d\n", bench % 2 ? t[bench / 2] : (t[bench / 2 - 1] + t[bench / 2]) / 2,
             t[0], bench, infc_pool_thread_count(pool));
    }
    free(t);
  } else {
    st = infc_model_run(m, arena, (const void* const*)bufs, bufs + ins, pool);
  }
  if (st) {
    fprintf(stderr, "model_run: run failed: %s\n", infc_status_string(st));
    goto done;
  }
  for (k = 0; k < (uint32_t)n_out; k++) {
    infc_tensor_info info;
    FILE* f = fopen(out_files[k], "wb");
    infc_model_output_info(m, k, &info);
    if (!f || fwrite(bufs[ins + k], 1, (size_t)info.bytes, f) != info.bytes) {
      fprintf(stderr, "model_run: cannot write output '%s'\n", out_files[k]);
      if (f) fclose(f);
      goto done;
    }
    if (fclose(f)) goto done;
  }
  rc = 0;
done:
  if (bufs)
    for (k = 0; k < ins + outs; k++) free(bufs[k]);
  free(bufs);
  free(arena);
  infc_pool_free(pool);
  infc_model_free(m);
  free(in_files);
  free(out_files);
  return rc;
}
