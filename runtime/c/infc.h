/* infc.h — the infc C runtime: load a compiled plan (model.infc), query its inputs and outputs,
 * run it with a caller-provided arena, optionally on a thread pool.
 *
 *   infc_model* m; infc_pool* pool;
 *   if (infc_model_load_file("model.infc", &m)) ...       // validates everything before use
 *   void* arena = aligned_alloc(64, round_up(infc_model_arena_size(m), 64));
 *   infc_pool_create(4, &pool);
 *   infc_model_run(m, arena, inputs, outputs, pool);       // allocates nothing
 *
 * Every fallible call returns an infc_status (INFC_OK is 0); results come back through out_
 * parameters. A model runs one inference at a time (runs of one model must not overlap); load
 * the file twice, or use one model per thread, for concurrent runs. */
#ifndef INFC_H
#define INFC_H
#include <stddef.h>
#include <stdint.h>
#include "infc_kernel.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum infc_status {
  INFC_OK = 0,
  INFC_STATUS_INVALID_ARGUMENT,   /* a NULL or out-of-range argument */
  INFC_STATUS_IO,                 /* a file could not be opened or read */
  INFC_STATUS_OUT_OF_MEMORY,
  INFC_STATUS_TRUNCATED,          /* fewer bytes than the header says */
  INFC_STATUS_BAD_MAGIC,          /* not a model.infc file */
  INFC_STATUS_BAD_VERSION,        /* format version or header size this runtime does not read */
  INFC_STATUS_BAD_TARGET,         /* compiled for another target */
  INFC_STATUS_HEADER_CHECKSUM,
  INFC_STATUS_PLAN_CHECKSUM,
  INFC_STATUS_WEIGHTS_CHECKSUM,
  INFC_STATUS_BAD_LAYOUT,         /* sections or tables out of bounds, misaligned or absurd */
  INFC_STATUS_BAD_TENSOR,         /* a tensor record is inconsistent or out of bounds */
  INFC_STATUS_BAD_STEP,           /* a step or arg list entry is out of range */
  INFC_STATUS_BAD_IO,             /* the input/output list does not match the tensor kinds */
  INFC_STATUS_KERNEL_MISMATCH,    /* the plan was compiled with other kernels than the linked ones */
  INFC_STATUS_MISALIGNED,         /* a buffer is not aligned as required */
  INFC_STATUS_THREAD,             /* a thread could not be created */
  INFC_STATUS_COUNT_
} infc_status;

/** A static English description of a status (never NULL). */
const char* infc_status_string(infc_status status);

/* ---- model -------------------------------------------------------------------------------- */

typedef struct infc_model infc_model;
typedef struct infc_pool infc_pool;

typedef struct infc_tensor_info {
  const char* name;     /* UTF-8, valid while the model lives */
  uint32_t dtype;       /* INFC_DTYPE_* from infc_plan.h */
  uint32_t rank;
  int64_t dims[8];
  uint64_t bytes;
} infc_tensor_info;

/** Loads a plan from memory. `data` must be 8-byte aligned and outlive the model: weights are used
 * in place, not copied. Validates the whole file (checksums, every offset, size and index) first. */
infc_status infc_model_load(const void* data, size_t size, infc_model** out_model);

/** Reads a file into memory the model owns (64-byte aligned) and loads it. */
infc_status infc_model_load_file(const char* path, infc_model** out_model);

void infc_model_free(infc_model* model);

uint32_t infc_model_input_count(const infc_model* model);
uint32_t infc_model_output_count(const infc_model* model);
infc_status infc_model_input_info(const infc_model* model, uint32_t index, infc_tensor_info* out_info);
infc_status infc_model_output_info(const infc_model* model, uint32_t index, infc_tensor_info* out_info);

/** Bytes of arena infc_model_run needs (may be 0). */
uint64_t infc_model_arena_size(const infc_model* model);

/** Bytes the model allocated at load for its prepared tensors (constant weights repacked or
 * transformed for their kernels; may be 0). */
uint64_t infc_model_prepared_size(const infc_model* model);

/** Runs the plan's prepare steps (filling the prepared tensors) if they have not run yet. The first
 * infc_model_run does this itself; call it after loading to keep that work out of the first run. */
infc_status infc_model_prepare(infc_model* model, infc_pool* pool);

/** Runs every step. `arena`: infc_model_arena_size bytes, 64-byte aligned (NULL if the size is 0).
 * `inputs[i]` / `outputs[i]`: the model's i-th input/output, aligned for its dtype. `pool` may be
 * NULL (serial). Allocates nothing. */
infc_status infc_model_run(infc_model* model, void* arena, const void* const* inputs, void* const* outputs, infc_pool* pool);

/** Number of steps (kernel launches) of the plan. */
uint32_t infc_model_step_count(const infc_model* model);

/** Runs steps [step_begin, step_end) only (same arguments as infc_model_run; the arena keeps the
 * values earlier steps left there). For profilers: infc_model_run is the range [0, step_count). */
infc_status infc_model_run_steps(infc_model* model, void* arena, const void* const* inputs, void* const* outputs, infc_pool* pool,
                                 uint32_t step_begin, uint32_t step_end);

/* ---- thread pool -------------------------------------------------------------------------- */

/** A pool running kernels on `thread_count` threads in all (the caller's included);
 * 0 means one per online CPU. */
infc_status infc_pool_create(int32_t thread_count, infc_pool** out_pool);

/** Changes the number of threads (stops and restarts the workers; not during a run). */
infc_status infc_pool_set_thread_count(infc_pool* pool, int32_t thread_count);

int32_t infc_pool_thread_count(const infc_pool* pool);

void infc_pool_free(infc_pool* pool);

/** Runs fn over tasks [0, tasks): the threads, the caller included, claim chunks of consecutive
 * tasks until none is left; returns when all are done. Serial when pool is NULL or tasks < 2. */
void infc_pool_parallel_for(infc_pool* pool, infc_kernel_fn fn, void* const* args, int64_t tasks);

#ifdef __cplusplus
}
#endif
#endif
