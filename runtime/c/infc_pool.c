/* infc_pool.c — a small pthread pool for the runtime's parallel loops.
 *
 * A pool of N threads is the caller plus N-1 workers. parallel_for publishes a job (kernel, args,
 * task count, chunk size) and every thread, the caller included, claims chunks of consecutive tasks
 * from a shared counter until none is left; the caller returns once every task has finished. So a
 * thread that is descheduled (the machine is shared) or slow delays the step by at most one chunk,
 * not by a fixed share of the tasks, and a step's tasks need not divide evenly among the threads.
 * Chunks are about an eighth of a thread's share: small enough to balance, large enough that the
 * claims cost nothing next to the work. No allocation happens per job.
 *
 * The job counter is one 64-bit word, generation << 32 | next task, claimed by compare-and-swap
 * (a job has at most 2^31 tasks; parallel_for runs larger counts as several jobs).
 * Jobs alternate between two slots: the caller fills the slot the previous job did not use, then
 * publishes the new generation. A worker reads the slot of the generation it saw and claims with a
 * CAS that expects that generation, so it never runs a chunk with fields of another job (the slot
 * of generation g is next rewritten for g + 2, after g + 1 was published and has finished; the
 * 32-bit generation would have to wrap around while one thread stalls between reading a slot and
 * its CAS for the check to be fooled).
 *
 * Waking a sleeping thread costs tens of microseconds, more than many kernels take, so both sides
 * first spin briefly before sleeping: a model's steps follow each other closely enough that
 * workers are usually still spinning. The sleepers count and the counters are sequentially
 * consistent atomics (GCC/Clang builtins), so a publish that sees no sleeper is seen by the thread
 * about to sleep, and likewise for the caller waiting on the last chunk. */
#if !defined(_POSIX_C_SOURCE) || _POSIX_C_SOURCE < 200112L
#undef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200112L
#endif
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include "infc.h"

#if defined(__GNUC__)
#define INFC_LOAD(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define INFC_STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define INFC_ADD(x, v) __atomic_add_fetch(&(x), (v), __ATOMIC_SEQ_CST)
#define INFC_CAS(x, e, v) __atomic_compare_exchange_n(&(x), &(e), (v), 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)
#define INFC_RLOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define INFC_RSTORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
#define INFC_SPIN 20000
#if defined(__x86_64__) || defined(__i386__)
#define INFC_PAUSE() __builtin_ia32_pause()
#else
#define INFC_PAUSE() ((void)0)
#endif
#else
#error "infc_pool.c needs GCC or Clang atomic builtins"
#endif

#define INFC_GEN_SHIFT 32
#define INFC_NEXT_MASK ((((uint64_t)1) << INFC_GEN_SHIFT) - 1)
#define INFC_JOB_MAX (((int64_t)1) << 31)

typedef struct infc_worker {
  infc_pool* pool;
  uint64_t seen;            /* generation at start: a job posted before the thread runs is not missed */
  pthread_t thread;
} infc_worker;

typedef struct infc_job {
  infc_kernel_fn fn;
  void* const* args;
  int64_t base, tasks, chunk;   /* runs fn over [base, base + tasks) */
} infc_job;

struct infc_pool {
  pthread_mutex_t mu;
  pthread_cond_t wake, done;
  infc_worker* workers;
  int32_t threads;          /* caller included */
  int32_t started;          /* workers running */
  int stop;
  int32_t sleepers;         /* workers waiting on `wake` */
  int32_t waiting;          /* 1 while the caller waits on `done` */
  uint64_t ticket;          /* generation << INFC_GEN_SHIFT | next unclaimed task */
  int64_t finished;         /* tasks of the current job done */
  infc_job job[2];          /* slot generation & 1 */
};

/* Claims and runs chunks of job generation `gen` until none is left. */
static void run_chunks(infc_pool* p, uint64_t gen) {
  const infc_job* j = &p->job[gen & 1];
  infc_kernel_fn fn = (infc_kernel_fn)INFC_RLOAD(j->fn);
  void* const* args = INFC_RLOAD(j->args);
  const int64_t base = INFC_RLOAD(j->base), tasks = INFC_RLOAD(j->tasks), chunk = INFC_RLOAD(j->chunk);
  uint64_t t = INFC_LOAD(p->ticket);
  for (;;) {
    int64_t begin, end;
    if (t >> INFC_GEN_SHIFT != gen) return;
    begin = (int64_t)(t & INFC_NEXT_MASK);
    if (begin >= tasks) return;
    end = begin + chunk < tasks ? begin + chunk : tasks;
    if (!INFC_CAS(p->ticket, t, t + (uint64_t)(end - begin))) continue; /* t reloaded */
    fn(args, base + begin, base + end);
    if (INFC_ADD(p->finished, end - begin) == tasks && INFC_LOAD(p->waiting)) {
      pthread_mutex_lock(&p->mu);
      pthread_cond_signal(&p->done);
      pthread_mutex_unlock(&p->mu);
    }
    t = INFC_LOAD(p->ticket);
  }
}

static void* worker_main(void* arg) {
  infc_worker* w = (infc_worker*)arg;
  infc_pool* p = w->pool;
  uint64_t seen = w->seen;
  for (;;) {
    uint64_t gen;
    int k;
    for (k = 0; k < INFC_SPIN && INFC_LOAD(p->ticket) >> INFC_GEN_SHIFT == seen && !INFC_LOAD(p->stop); k++) INFC_PAUSE();
    if (INFC_LOAD(p->ticket) >> INFC_GEN_SHIFT == seen && !INFC_LOAD(p->stop)) {
      pthread_mutex_lock(&p->mu);
      INFC_ADD(p->sleepers, 1);
      while (INFC_LOAD(p->ticket) >> INFC_GEN_SHIFT == seen && !INFC_LOAD(p->stop)) pthread_cond_wait(&p->wake, &p->mu);
      INFC_ADD(p->sleepers, -1);
      pthread_mutex_unlock(&p->mu);
    }
    if (INFC_LOAD(p->stop)) break;
    gen = INFC_LOAD(p->ticket) >> INFC_GEN_SHIFT;
    seen = gen;
    run_chunks(p, gen);
  }
  return NULL;
}

static void stop_workers(infc_pool* p) {
  int32_t i;
  pthread_mutex_lock(&p->mu);
  INFC_STORE(p->stop, 1);
  pthread_cond_broadcast(&p->wake);
  pthread_mutex_unlock(&p->mu);
  for (i = 0; i < p->started; i++) pthread_join(p->workers[i].thread, NULL);
  free(p->workers);
  p->workers = NULL;
  p->started = 0;
  p->stop = 0;
}

static infc_status start_workers(infc_pool* p, int32_t threads) {
  int32_t i;
  if (threads <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    threads = n > 0 && n < 4096 ? (int32_t)n : 1;
  }
  p->threads = 1;
  if (threads > 1) {
    p->workers = (infc_worker*)calloc((size_t)threads - 1, sizeof(infc_worker));
    if (!p->workers) return INFC_STATUS_OUT_OF_MEMORY;
  }
  for (i = 0; i < threads - 1; i++) {
    p->workers[i].pool = p;
    p->workers[i].seen = p->ticket >> INFC_GEN_SHIFT;
    if (pthread_create(&p->workers[i].thread, NULL, worker_main, &p->workers[i])) {
      stop_workers(p);
      return INFC_STATUS_THREAD;
    }
    p->started = i + 1;
  }
  p->threads = threads;
  return INFC_OK;
}

infc_status infc_pool_create(int32_t thread_count, infc_pool** out_pool) {
  infc_pool* p;
  infc_status st;
  if (!out_pool) return INFC_STATUS_INVALID_ARGUMENT;
  *out_pool = NULL;
  p = (infc_pool*)calloc(1, sizeof(infc_pool));
  if (!p) return INFC_STATUS_OUT_OF_MEMORY;
  if (pthread_mutex_init(&p->mu, NULL)) {
    free(p);
    return INFC_STATUS_THREAD;
  }
  pthread_cond_init(&p->wake, NULL);
  pthread_cond_init(&p->done, NULL);
  st = start_workers(p, thread_count);
  if (st) {
    infc_pool_free(p);
    return st;
  }
  *out_pool = p;
  return INFC_OK;
}

infc_status infc_pool_set_thread_count(infc_pool* p, int32_t thread_count) {
  if (!p) return INFC_STATUS_INVALID_ARGUMENT;
  stop_workers(p);
  return start_workers(p, thread_count);
}

int32_t infc_pool_thread_count(const infc_pool* p) { return p ? p->threads : 1; }

void infc_pool_free(infc_pool* p) {
  if (!p) return;
  stop_workers(p);
  pthread_cond_destroy(&p->wake);
  pthread_cond_destroy(&p->done);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

/* One job: tasks [base, base + tasks), tasks <= INFC_JOB_MAX. */
static void run_job(infc_pool* p, infc_kernel_fn fn, void* const* args, int64_t base, int64_t tasks) {
  uint64_t gen;
  infc_job* j;
  int64_t chunk;
  int k;
  chunk = tasks / ((int64_t)p->threads * 8);
  if (chunk < 1) chunk = 1;
  gen = ((INFC_LOAD(p->ticket) >> INFC_GEN_SHIFT) + 1) & INFC_NEXT_MASK;
  j = &p->job[gen & 1];
  INFC_RSTORE(j->fn, fn);
  INFC_RSTORE(j->args, args);
  INFC_RSTORE(j->base, base);
  INFC_RSTORE(j->tasks, tasks);
  INFC_RSTORE(j->chunk, chunk);
  INFC_STORE(p->finished, 0);
  INFC_STORE(p->ticket, gen << INFC_GEN_SHIFT);
  if (INFC_LOAD(p->sleepers) > 0) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
  }
  run_chunks(p, gen);
  for (k = 0; k < INFC_SPIN && INFC_LOAD(p->finished) < tasks; k++) INFC_PAUSE();
  if (INFC_LOAD(p->finished) < tasks) {
    pthread_mutex_lock(&p->mu);
    INFC_STORE(p->waiting, 1);
    while (INFC_LOAD(p->finished) < tasks) pthread_cond_wait(&p->done, &p->mu);
    INFC_STORE(p->waiting, 0);
    pthread_mutex_unlock(&p->mu);
  }
}

void infc_pool_parallel_for(infc_pool* p, infc_kernel_fn fn, void* const* args, int64_t tasks) {
  int64_t base;
  if (!p || p->threads <= 1 || tasks < 2) {
    if (tasks > 0) fn(args, 0, tasks);
    return;
  }
  for (base = 0; base < tasks; base += INFC_JOB_MAX) run_job(p, fn, args, base, tasks - base < INFC_JOB_MAX ? tasks - base : INFC_JOB_MAX);
}
