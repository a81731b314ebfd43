/* infc_runtime.c — loads a model.infc plan (format: infc_plan.h) and runs it with the linked
 * generated kernels (infc_kernel.h).
 *
 * The loader trusts nothing: it checks the magic, version, target, the three checksums, then every
 * section, table, offset, size, count and index against the bytes that exist, before the model is
 * handed out. Fields are read byte by byte as little-endian, so the plan needs no alignment and
 * reads the same on any host. Running allocates nothing: pointer tables and the block of prepared
 * tensors (constant weights repacked for their kernels) are allocated at load; the prepare steps
 * that fill that block run once, on the first run (or infc_model_prepare). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "infc.h"
#include "infc_plan.h"

struct infc_model {
  const uint8_t* data;
  void* owned;              /* the file buffer when loaded by infc_model_load_file */
  uint64_t arena_size;
  uint64_t prepared_size;
  void* prepared_raw;       /* the prepared block as allocated */
  uint8_t* prepared;        /* ... and 64-byte aligned */
  int prepared_done;        /* the prepare steps have run */
  uint32_t prepare_count;   /* steps [0, prepare_count) are prepare steps */
  uint32_t tensor_count, step_count, arg_count, input_count, output_count;
  const uint8_t* tensors;
  const uint8_t* steps;
  const uint8_t* args;
  const uint8_t* io;
  const char* strings;
  const uint8_t* weights;
  void** tensor_ptr;        /* per tensor, filled by each run */
  void** argv;              /* per arg list entry, filled by each run */
};

static const char* const STATUS_TEXT[] = {
  "ok",
  "invalid argument",
  "cannot open or read the file",
  "out of memory",
  "truncated: the file is shorter than its header says",
  "bad magic: not a model.infc file (expected 'INFC')",
  "unsupported format version or header size",
  "the plan was compiled for another target",
  "header checksum mismatch (corrupt file)",
  "plan checksum mismatch (corrupt file)",
  "weights checksum mismatch (corrupt file)",
  "bad layout: a section or table is out of bounds, misaligned or too large",
  "bad tensor record: kind, dtype, rank, dims, size or offset out of range",
  "bad step: kernel index, task count or arg list out of range",
  "bad input/output list",
  "the plan does not match the linked kernels (different compile)",
  "misaligned buffer",
  "cannot create a thread",
};

const char* infc_status_string(infc_status s) {
  return (unsigned)s < (unsigned)INFC_STATUS_COUNT_ ? STATUS_TEXT[s] : "unknown status";
}

static uint32_t rd32(const uint8_t* p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t* p) {
  return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint64_t fnv1a(const uint8_t* p, uint64_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  while (n--) h = (h ^ *p++) * 0x100000001b3ull;
  return h;
}

/* Bytes of n elements of dtype dt, or UINT64_MAX for an unknown dtype (n <= 2^56). */
static uint64_t dtype_bytes(uint32_t dt, uint64_t n) {
  switch (dt) {
    case INFC_DTYPE_U8: case INFC_DTYPE_I8: case INFC_DTYPE_BOOL: case INFC_DTYPE_F8E4M3FN:
    case INFC_DTYPE_F8E4M3FNUZ: case INFC_DTYPE_F8E5M2: case INFC_DTYPE_F8E5M2FNUZ: return n;
    case INFC_DTYPE_U16: case INFC_DTYPE_I16: case INFC_DTYPE_F16: case INFC_DTYPE_BF16: return n * 2;
    case INFC_DTYPE_F32: case INFC_DTYPE_I32: case INFC_DTYPE_U32: return n * 4;
    case INFC_DTYPE_F64: case INFC_DTYPE_I64: case INFC_DTYPE_U64: return n * 8;
    case INFC_DTYPE_U4: case INFC_DTYPE_I4: return (n + 1) / 2;
    case INFC_DTYPE_Q4_0: return (n + 31) / 32 * 18;
    case INFC_DTYPE_Q4_1: return (n + 31) / 32 * 20;
    case INFC_DTYPE_Q8_0: return (n + 31) / 32 * 34;
    case INFC_DTYPE_Q4_K: return (n + 255) / 256 * 144;
    case INFC_DTYPE_Q6_K: return (n + 255) / 256 * 210;
    default: return UINT64_MAX;
  }
}

/* Whether table [off, off + count * rec) lies inside [lo, hi) and off is a multiple of align. */
static int in_section(uint64_t off, uint64_t count, uint64_t rec, uint64_t align, uint64_t lo, uint64_t hi) {
  return off >= lo && off <= hi && off % align == 0 && count * rec <= hi - off;
}

static infc_status check_tensor(const infc_model* m, const uint8_t* t, uint64_t strings_size, uint64_t weights_size) {
  uint32_t kind = t[INFC_PLAN_T_KIND], rank = t[INFC_PLAN_T_RANK], r;
  uint64_t off = rd64(t + INFC_PLAN_T_OFFSET), bytes = rd64(t + INFC_PLAN_T_BYTES), n = 1, limit;
  if (kind > INFC_TENSOR_PREPARED || rank > INFC_PLAN_MAX_RANK || t[INFC_PLAN_T_RESERVED] ||
      rd32(t + INFC_PLAN_T_NAME) >= strings_size) return INFC_STATUS_BAD_TENSOR;
  for (r = 0; r < INFC_PLAN_MAX_RANK; r++) {
    uint64_t d = rd64(t + INFC_PLAN_T_DIMS + 8 * r);
    if (r >= rank) {
      if (d) return INFC_STATUS_BAD_TENSOR;
    } else {
      if (d > INFC_PLAN_MAX_DIM || (d && n > ((uint64_t)1 << 56) / d)) return INFC_STATUS_BAD_TENSOR;
      n *= d;
    }
  }
  if (dtype_bytes(t[INFC_PLAN_T_DTYPE], n) != bytes) return INFC_STATUS_BAD_TENSOR;
  if (kind == INFC_TENSOR_INPUT || kind == INFC_TENSOR_OUTPUT) return off ? INFC_STATUS_BAD_TENSOR : INFC_OK;
  limit = kind == INFC_TENSOR_ARENA ? m->arena_size : kind == INFC_TENSOR_PREPARED ? m->prepared_size : weights_size;
  return off % 64 == 0 && off <= limit && bytes <= limit - off ? INFC_OK : INFC_STATUS_BAD_TENSOR;
}

/* Checks one half of the io list: ids in range, of the right kind, each such tensor exactly once. */
static infc_status check_io(infc_model* m, const uint8_t* ids, uint32_t count, uint32_t kind) {
  uint32_t i, of_kind = 0;
  for (i = 0; i < m->tensor_count; i++) {
    m->tensor_ptr[i] = NULL;
    of_kind += m->tensors[(uint64_t)i * INFC_PLAN_TENSOR_SIZE + INFC_PLAN_T_KIND] == kind;
  }
  if (of_kind != count) return INFC_STATUS_BAD_IO;
  for (i = 0; i < count; i++) {
    uint32_t id = rd32(ids + 4 * i);
    if (id >= m->tensor_count || m->tensors[(uint64_t)id * INFC_PLAN_TENSOR_SIZE + INFC_PLAN_T_KIND] != kind ||
        m->tensor_ptr[id]) return INFC_STATUS_BAD_IO;
    m->tensor_ptr[id] = m; /* mark as seen */
  }
  return INFC_OK;
}

infc_status infc_model_load(const void* data, size_t size, infc_model** out_model) {
  const uint8_t* h = (const uint8_t*)data;
  uint64_t file_size, plan_off, plan_size, plan_end, w_off, w_size, strings_off, strings_size;
  uint32_t tensors, steps, args, ins, outs, i;
  infc_model* m;
  infc_status st;
  if (!out_model) return INFC_STATUS_INVALID_ARGUMENT;
  *out_model = NULL;
  if (!data) return INFC_STATUS_INVALID_ARGUMENT;
  if ((uintptr_t)data % 8) return INFC_STATUS_MISALIGNED;
  if (size >= 4 && memcmp(h, INFC_PLAN_MAGIC, 4)) return INFC_STATUS_BAD_MAGIC;
  if (size < INFC_PLAN_HEADER_SIZE) return INFC_STATUS_TRUNCATED;
  if (rd32(h + INFC_PLAN_H_VERSION) != INFC_PLAN_VERSION || rd32(h + INFC_PLAN_H_HEADER_SIZE) != INFC_PLAN_HEADER_SIZE)
    return INFC_STATUS_BAD_VERSION;
  if (fnv1a(h, INFC_PLAN_H_HEADER_CHECKSUM) != rd64(h + INFC_PLAN_H_HEADER_CHECKSUM)) return INFC_STATUS_HEADER_CHECKSUM;
  if (rd32(h + INFC_PLAN_H_TARGET) != INFC_TARGET_C) return INFC_STATUS_BAD_TARGET;
  file_size = rd64(h + INFC_PLAN_H_FILE_SIZE);
  if (file_size > size) return INFC_STATUS_TRUNCATED;
  plan_off = rd64(h + INFC_PLAN_H_PLAN_OFFSET);
  plan_size = rd64(h + INFC_PLAN_H_PLAN_SIZE);
  w_off = rd64(h + INFC_PLAN_H_WEIGHTS_OFFSET);
  w_size = rd64(h + INFC_PLAN_H_WEIGHTS_SIZE);
  if (file_size != size || plan_off != INFC_PLAN_HEADER_SIZE || plan_size > file_size - plan_off ||
      w_off != plan_off + plan_size || w_off % INFC_PLAN_WEIGHTS_ALIGN || w_size != file_size - w_off ||
      rd64(h + INFC_PLAN_H_PREPARED_SIZE) % 64 ||
      rd64(h + INFC_PLAN_H_PREPARED_SIZE) > INFC_PLAN_PREPARED_FACTOR * w_size + INFC_PLAN_PREPARED_SLACK) return INFC_STATUS_BAD_LAYOUT;
  if (fnv1a(h + plan_off, plan_size) != rd64(h + INFC_PLAN_H_PLAN_CHECKSUM)) return INFC_STATUS_PLAN_CHECKSUM;
  if (fnv1a(h + w_off, w_size) != rd64(h + INFC_PLAN_H_WEIGHTS_CHECKSUM)) return INFC_STATUS_WEIGHTS_CHECKSUM;

  tensors = rd32(h + INFC_PLAN_H_TENSOR_COUNT);
  steps = rd32(h + INFC_PLAN_H_STEP_COUNT);
  args = rd32(h + INFC_PLAN_H_ARG_COUNT);
  ins = rd32(h + INFC_PLAN_H_INPUT_COUNT);
  outs = rd32(h + INFC_PLAN_H_OUTPUT_COUNT);
  if (tensors > INFC_PLAN_MAX_TENSORS || steps > INFC_PLAN_MAX_STEPS || args > INFC_PLAN_MAX_ARGS ||
      ins > INFC_PLAN_MAX_IO || outs > INFC_PLAN_MAX_IO) return INFC_STATUS_BAD_LAYOUT;
  if (rd32(h + INFC_PLAN_H_KERNEL_COUNT) != infc_model_kernel_count || rd64(h + INFC_PLAN_H_KERNELS_ID) != infc_model_kernels_id)
    return INFC_STATUS_KERNEL_MISMATCH;
  plan_end = plan_off + plan_size;
  strings_off = rd64(h + INFC_PLAN_H_STRINGS_OFFSET);
  strings_size = rd64(h + INFC_PLAN_H_STRINGS_SIZE);
  if (!in_section(rd64(h + INFC_PLAN_H_TENSORS_OFFSET), tensors, INFC_PLAN_TENSOR_SIZE, 8, plan_off, plan_end) ||
      !in_section(rd64(h + INFC_PLAN_H_STEPS_OFFSET), steps, INFC_PLAN_STEP_SIZE, 8, plan_off, plan_end) ||
      !in_section(rd64(h + INFC_PLAN_H_ARGS_OFFSET), args, 4, 4, plan_off, plan_end) ||
      !in_section(rd64(h + INFC_PLAN_H_IO_OFFSET), (uint64_t)ins + outs, 4, 4, plan_off, plan_end) ||
      !in_section(strings_off, strings_size, 1, 1, plan_off, plan_end) || !strings_size || h[strings_off + strings_size - 1])
    return INFC_STATUS_BAD_LAYOUT;

  m = (infc_model*)calloc(1, sizeof(infc_model) + ((uint64_t)tensors + args + 1) * sizeof(void*));
  if (!m) return INFC_STATUS_OUT_OF_MEMORY;
  m->data = h;
  m->arena_size = rd64(h + INFC_PLAN_H_ARENA_SIZE);
  m->prepared_size = rd64(h + INFC_PLAN_H_PREPARED_SIZE);
  m->tensor_count = tensors;
  m->step_count = steps;
  m->arg_count = args;
  m->input_count = ins;
  m->output_count = outs;
  m->tensors = h + rd64(h + INFC_PLAN_H_TENSORS_OFFSET);
  m->steps = h + rd64(h + INFC_PLAN_H_STEPS_OFFSET);
  m->args = h + rd64(h + INFC_PLAN_H_ARGS_OFFSET);
  m->io = h + rd64(h + INFC_PLAN_H_IO_OFFSET);
  m->strings = (const char*)h + strings_off;
  m->weights = h + w_off;
  m->tensor_ptr = (void**)(m + 1);
  m->argv = m->tensor_ptr + tensors;

  st = INFC_OK;
  for (i = 0; i < tensors && !st; i++) st = check_tensor(m, m->tensors + (uint64_t)i * INFC_PLAN_TENSOR_SIZE, strings_size, w_size);
  for (i = 0; i < steps && !st; i++) {
    const uint8_t* s = m->steps + (uint64_t)i * INFC_PLAN_STEP_SIZE;
    uint32_t begin = rd32(s + INFC_PLAN_S_ARG_BEGIN);
    uint32_t flags = rd32(s + INFC_PLAN_S_FLAGS), count = rd32(s + INFC_PLAN_S_ARG_COUNT), a;
    uint64_t tasks = rd64(s + INFC_PLAN_S_TASKS);
    if (rd32(s + INFC_PLAN_S_KERNEL) >= infc_model_kernel_count || (flags & ~(uint32_t)INFC_STEP_PREPARE) || tasks < 1 ||
        tasks > INFC_PLAN_MAX_TASKS || begin > args || count > args - begin)
      st = INFC_STATUS_BAD_STEP;
    else if (flags & INFC_STEP_PREPARE) {
      /* prepare steps come first and touch only CONST and PREPARED tensors (no run's buffers exist yet) */
      if (i != m->prepare_count) st = INFC_STATUS_BAD_STEP;
      m->prepare_count++;
      for (a = 0; a < count && !st; a++) {
        uint32_t id = rd32(m->args + 4 * ((uint64_t)begin + a));
        uint8_t kind = id < tensors ? m->tensors[(uint64_t)id * INFC_PLAN_TENSOR_SIZE + INFC_PLAN_T_KIND] : 0xff;
        if (kind != INFC_TENSOR_CONST && kind != INFC_TENSOR_PREPARED) st = INFC_STATUS_BAD_STEP;
      }
    }
  }
  for (i = 0; i < args && !st; i++) {
    if (rd32(m->args + 4 * (uint64_t)i) >= tensors) st = INFC_STATUS_BAD_STEP;
  }
  if (!st) st = check_io(m, m->io, ins, INFC_TENSOR_INPUT);
  if (!st) st = check_io(m, m->io + 4 * (uint64_t)ins, outs, INFC_TENSOR_OUTPUT);
  if (!st && m->prepared_size) {
    m->prepared_raw = malloc((size_t)m->prepared_size + 64);
    if (!m->prepared_raw) st = INFC_STATUS_OUT_OF_MEMORY;
    else m->prepared = (uint8_t*)m->prepared_raw + (64 - (uintptr_t)m->prepared_raw % 64) % 64;
  }
  if (st) {
    free(m);
    return st;
  }
  *out_model = m;
  return INFC_OK;
}

infc_status infc_model_load_file(const char* path, infc_model** out_model) {
  FILE* f;
  long n;
  uint8_t* raw;
  uint8_t* aligned;
  infc_status st;
  if (!out_model) return INFC_STATUS_INVALID_ARGUMENT;
  *out_model = NULL;
  if (!path) return INFC_STATUS_INVALID_ARGUMENT;
  f = fopen(path, "rb");
  if (!f) return INFC_STATUS_IO;
  if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET)) {
    fclose(f);
    return INFC_STATUS_IO;
  }
  raw = (uint8_t*)malloc((size_t)n + 64);
  if (!raw) {
    fclose(f);
    return INFC_STATUS_OUT_OF_MEMORY;
  }
  aligned = raw + (64 - (uintptr_t)raw % 64) % 64;
  if (fread(aligned, 1, (size_t)n, f) != (size_t)n) {
    fclose(f);
    free(raw);
    return INFC_STATUS_IO;
  }
  fclose(f);
  st = infc_model_load(aligned, (size_t)n, out_model);
  if (st) free(raw);
  else (*out_model)->owned = raw;
  return st;
}

void infc_model_free(infc_model* m) {
  if (!m) return;
  free(m->owned);
  free(m->prepared_raw);
  free(m);
}

uint32_t infc_model_input_count(const infc_model* m) { return m ? m->input_count : 0; }
uint32_t infc_model_output_count(const infc_model* m) { return m ? m->output_count : 0; }
uint64_t infc_model_arena_size(const infc_model* m) { return m ? m->arena_size : 0; }
uint64_t infc_model_prepared_size(const infc_model* m) { return m ? m->prepared_size : 0; }

static infc_status io_info(const infc_model* m, uint32_t index, uint32_t count, uint32_t first, infc_tensor_info* out) {
  const uint8_t* t;
  uint32_t r;
  if (!m || !out || index >= count) return INFC_STATUS_INVALID_ARGUMENT;
  t = m->tensors + (uint64_t)rd32(m->io + 4 * ((uint64_t)first + index)) * INFC_PLAN_TENSOR_SIZE;
  out->name = m->strings + rd32(t + INFC_PLAN_T_NAME);
  out->dtype = t[INFC_PLAN_T_DTYPE];
  out->rank = t[INFC_PLAN_T_RANK];
  for (r = 0; r < INFC_PLAN_MAX_RANK; r++) out->dims[r] = (int64_t)rd64(t + INFC_PLAN_T_DIMS + 8 * r);
  out->bytes = rd64(t + INFC_PLAN_T_BYTES);
  return INFC_OK;
}

infc_status infc_model_input_info(const infc_model* m, uint32_t index, infc_tensor_info* out_info) {
  return io_info(m, index, m ? m->input_count : 0, 0, out_info);
}

infc_status infc_model_output_info(const infc_model* m, uint32_t index, infc_tensor_info* out_info) {
  return io_info(m, index, m ? m->output_count : 0, m ? m->input_count : 0, out_info);
}

uint32_t infc_model_step_count(const infc_model* m) { return m ? m->step_count : 0; }

/* Points tensor_ptr and argv at the buffers of a run (io 0 while preparing: only CONST and PREPARED
 * tensors exist then). */
static void bind(infc_model* m, void* arena, const void* const* inputs, void* const* outputs, int io) {
  uint32_t i;
  for (i = 0; i < m->tensor_count; i++) {
    const uint8_t* t = m->tensors + (uint64_t)i * INFC_PLAN_TENSOR_SIZE;
    uint64_t off = rd64(t + INFC_PLAN_T_OFFSET);
    uint8_t kind = t[INFC_PLAN_T_KIND];
    m->tensor_ptr[i] = kind == INFC_TENSOR_CONST ? (void*)(m->weights + off)
                     : kind == INFC_TENSOR_PREPARED ? (void*)(m->prepared + off)
                     : kind == INFC_TENSOR_ARENA && arena ? (void*)((uint8_t*)arena + off) : NULL;
  }
  if (io) {
    for (i = 0; i < m->input_count + m->output_count; i++) {
      uint32_t id = rd32(m->io + 4 * (uint64_t)i);
      m->tensor_ptr[id] = i < m->input_count ? (void*)inputs[i] : outputs[i - m->input_count];
    }
  }
  for (i = 0; i < m->arg_count; i++) m->argv[i] = m->tensor_ptr[rd32(m->args + 4 * (uint64_t)i)];
}

static void run_range(infc_model* m, infc_pool* pool, uint32_t begin, uint32_t end) {
  uint32_t i;
  for (i = begin; i < end; i++) {
    const uint8_t* s = m->steps + (uint64_t)i * INFC_PLAN_STEP_SIZE;
    infc_pool_parallel_for(pool, infc_model_kernels[rd32(s + INFC_PLAN_S_KERNEL)], m->argv + rd32(s + INFC_PLAN_S_ARG_BEGIN),
                           (int64_t)rd64(s + INFC_PLAN_S_TASKS));
  }
}

infc_status infc_model_prepare(infc_model* m, infc_pool* pool) {
  if (!m) return INFC_STATUS_INVALID_ARGUMENT;
  if (m->prepared_done) return INFC_OK;
  bind(m, NULL, NULL, NULL, 0);
  run_range(m, pool, 0, m->prepare_count);
  m->prepared_done = 1;
  return INFC_OK;
}

infc_status infc_model_run(infc_model* m, void* arena, const void* const* inputs, void* const* outputs, infc_pool* pool) {
  return infc_model_run_steps(m, arena, inputs, outputs, pool, 0, m ? m->step_count : 0);
}

infc_status infc_model_run_steps(infc_model* m, void* arena, const void* const* inputs, void* const* outputs, infc_pool* pool,
                                 uint32_t step_begin, uint32_t step_end) {
  uint32_t i;
  if (!m || step_begin > step_end || step_end > m->step_count || (m->arena_size && !arena) || (m->input_count && !inputs) || (m->output_count && !outputs))
    return INFC_STATUS_INVALID_ARGUMENT;
  if ((uintptr_t)arena % INFC_PLAN_ARENA_ALIGN) return INFC_STATUS_MISALIGNED;
  for (i = 0; i < m->input_count + m->output_count; i++) {
    uint32_t id = rd32(m->io + 4 * (uint64_t)i);
    const void* p = i < m->input_count ? inputs[i] : outputs[i - m->input_count];
    if (!p && rd64(m->tensors + (uint64_t)id * INFC_PLAN_TENSOR_SIZE + INFC_PLAN_T_BYTES)) return INFC_STATUS_INVALID_ARGUMENT;
  }
  infc_model_prepare(m, pool);
  bind(m, arena, inputs, outputs, 1);
  run_range(m, pool, step_begin > m->prepare_count ? step_begin : m->prepare_count, step_end);
  return INFC_OK;
}
