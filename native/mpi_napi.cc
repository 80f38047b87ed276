// Node-API glue for MPI collectives (data-parallel training, src/backend/mpi.ts and src/train/data-parallel.ts).
// Compiled with MPI only when scripts/build-native.mjs found Open MPI's headers and mpicc (ZY_HAVE_MPI); without
// it only mpiAvailable() (false) and mpiBuildInfo() exist, and Zhiyu trains in one process.
//   mpiAvailable(): boolean                       mpiBuildInfo(): string (the MPI library version, or why none)
//   mpiInit(): {rank, size, threadLevel, library}  (synchronous; starts the communication thread)
//   mpiFinalize(): void                            (synchronous; drains the queue, MPI_Finalize, joins the thread)
//   mpiAllreduce(buf: Float32Array|Float64Array|Float32Array[]): Promise<void>   sum over ranks, in place; an array
//       of Float32Arrays is reduced as their concatenation (gradients straight from their tensors, no packing)
//   mpiReduceScatter(send: Float32Array, recv: Float32Array): Promise<void>  send holds size × recv.length values;
//       rank r receives the sum over ranks of block r
//   mpiAllgather(send: Float32Array|Float64Array, recv: same type): Promise<void>  recv holds size × send.length
//   mpiAllgatherNow(send: Float32Array, recv: Float32Array): void   the same, waited for (a loss needs the values)
//   mpiBroadcast(buf: Float32Array|Float64Array, root): Promise<void>
//   mpiBarrier(): Promise<void>                   (through the shared-memory window when there is one)
//   mpiSharedArray(floats): Float32Array | null   collective, waited for: memory every rank of this host maps (one
//       array seen by all; null when the ranks span hosts or the window is off), zero-filled, never unmapped
//   mpiReduceSlice(parts: Float32Array[], out: Float32Array): Promise<void>   shared-memory only: rank r receives in
//       out the sum over ranks of its slice [r·⌈n/N⌉, …) of the parts' concatenation (n values), in rank order
//   mpiAbort(code): never returns (MPI_Abort of the whole job)
// Threading: every MPI call, MPI_Init_thread included, runs on one communication thread that this file owns
// (MPI_THREAD_FUNNELED is all it asks for), in the order JavaScript queued them — the order every rank must agree
// on. JavaScript gets a Promise per collective and keeps computing (the backward pass) while the thread works; the
// buffers stay referenced until the promise settles. Errors come back as rejections naming the op and MPI's text.
// Ranks on one host: when every rank shares this host (MPI_Comm_split_type SHARED), f32 collectives skip MPI's
// transport and go through a shared-memory window (MPI_Win_allocate_shared): each rank copies its data into its
// segment, sums its 1/N slice straight from every segment (in rank order, so the result is the same bits on every
// rank, and for the sum of micro-batch gradients the same as one process accumulating them in that order) and reads
// the other slices from their owners' segments. Ranks wait for each other on a counter per rank in the window
// (futex: a waiting rank sleeps instead of polling the core its peer computes on). Open MPI's own shared-memory path
// in a container without single-copy (CMA) copies every byte twice through small FIFOs and polls while it waits.
// Leaves out: sub-communicators, ops other than sum, non-blocking MPI requests (the thread is the asynchrony),
// hierarchical reduction over several hosts (a job spread over hosts uses MPI's collectives throughout).
#include "zy_args.h"
#include "ops_kernels.h"

#ifdef ZY_HAVE_MPI
#define OMPI_SKIP_MPICXX 1  // the C API only: the deprecated C++ bindings need libmpi_cxx
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#include <dlfcn.h>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <atomic>
#include <climits>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>
#include <fcntl.h>
#include <sys/mman.h>
#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#endif
#endif

#ifndef ZY_MPI_BUILD_NOTE
#define ZY_MPI_BUILD_NOTE "built without MPI"
#endif

static Napi::Value MpiAvailable(const Napi::CallbackInfo &info) {
#ifdef ZY_HAVE_MPI
  return Napi::Boolean::New(info.Env(), true);
#else
  return Napi::Boolean::New(info.Env(), false);
#endif
}
static Napi::Value MpiBuildInfo(const Napi::CallbackInfo &info) {
#ifdef ZY_HAVE_MPI
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(lib, &len);  // allowed before MPI_Init
  std::string s(lib, len);
  return Napi::String::New(info.Env(), s.substr(0, s.find_first_of(",\n")));
#else
  return Napi::String::New(info.Env(), ZY_MPI_BUILD_NOTE);
#endif
}
ZY_REGISTER("mpiAvailable", MpiAvailable);
ZY_REGISTER("mpiBuildInfo", MpiBuildInfo);

#ifdef ZY_HAVE_MPI
namespace {

struct Job {
  std::string op;
  std::function<int()> run;  // returns an MPI error code
  Napi::Promise::Deferred deferred;
  std::vector<Napi::Reference<Napi::Value>> keep;  // buffers referenced until the promise settles
  int rc = MPI_SUCCESS;
  // A blocking collective (…Now): the JavaScript thread waits on these instead of a promise.
  bool blocking = false;
  bool finished = false;
  std::mutex finishedMu;
  std::condition_variable finishedCv;
  explicit Job(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

struct Comm {
  std::thread thread;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Job *> queue;
  std::deque<std::function<void()>> syncQueue;  // init/finalize, run on the thread, waited for by the caller
  bool stop = false;
  bool initialized = false;
  bool finalized = false;
  int rank = 0, size = 1, threadLevel = 0;
  std::string library;
  Napi::ThreadSafeFunction done;
  int64_t pending = 0;  // JS thread only
};
Comm *comm = nullptr;

std::string mpiErrorText(int rc) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(rc, buf, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(rc);
  return std::string(buf, len);
}

void shmRelease();

void threadMain() {
  for (;;) {
    Job *job = nullptr;
    std::function<void()> sync;
    {
      std::unique_lock<std::mutex> lock(comm->mu);
      comm->cv.wait(lock, [] { return comm->stop || !comm->queue.empty() || !comm->syncQueue.empty(); });
      if (!comm->syncQueue.empty()) {
        sync = std::move(comm->syncQueue.front());
        comm->syncQueue.pop_front();
      } else if (!comm->queue.empty()) {
        job = comm->queue.front();
        comm->queue.pop_front();
      } else {
        // Stop asked and every queued collective done: finalize here, on the thread that initialized MPI.
        if (comm->initialized) {
          shmRelease();
          MPI_Finalize();
        }
        return;
      }
    }
    if (sync) { sync(); continue; }
    job->rc = job->run();
    if (job->blocking) {
      std::lock_guard<std::mutex> l(job->finishedMu);
      job->finished = true;
      job->finishedCv.notify_one();
      continue;
    }
    comm->done.BlockingCall(job, [](Napi::Env env, Napi::Function, Job *j) {
      if (j->rc == MPI_SUCCESS) j->deferred.Resolve(env.Undefined());
      else j->deferred.Reject(Napi::Error::New(env, j->op + ": " + mpiErrorText(j->rc)).Value());
      for (auto &r : j->keep) r.Reset();
      delete j;
      if (comm && --comm->pending == 0) comm->done.Unref(env);
    });
  }
}


// ---- shared-memory collectives (ranks on one host) ----

// A Float32Array viewed as (pointer, length): one part of a buffer that is reduced as the concatenation of its parts.
struct Part {
  float *ptr;
  size_t n;
};

// Calls fn(pointer, count) for the pieces of the concatenated parts that fall in [lo, hi).
template <typename Fn>
void forRange(const std::vector<Part> &parts, size_t lo, size_t hi, Fn fn) {
  size_t at = 0;
  for (const Part &p : parts) {
    size_t a = std::max(lo, at), b = std::min(hi, at + p.n);
    if (a < b) fn(p.ptr + (a - at), a, b - a);
    at += p.n;
    if (at >= hi) break;
  }
}

struct Shm {
  bool tried = false;
  bool usable = false;
  std::string why;  // why not (several hosts, no Linux futex, allocation failed)
  MPI_Comm node = MPI_COMM_NULL;
  MPI_Win win = MPI_WIN_NULL;
  int rank = 0, size = 1;
  size_t capacity = 0;  // floats per rank
  std::vector<std::atomic<uint32_t> *> stage;  // per rank: 3 × (ops finished) + the phase of the current one
  std::vector<float *> data;                   // per rank: its segment's floats
  uint32_t ops = 0;                            // collectives done through the window since it was (re)allocated
};
Shm shm;
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "a futex word must be a plain 32-bit word");
constexpr size_t kHeader = 64;  // bytes before the floats: the stage counter on its own cache line

void wakeAll(std::atomic<uint32_t> *w) {
#ifdef __linux__
  syscall(SYS_futex, reinterpret_cast<uint32_t *>(w), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
#endif
}
void setStage(uint32_t v) {
  shm.stage[shm.rank]->store(v, std::memory_order_release);
  wakeAll(shm.stage[shm.rank]);
}
// Until every rank's counter has reached target: spin briefly, then sleep on the futex (a 20 ms timeout re-checks).
void waitAll(uint32_t target) {
  for (int r = 0; r < shm.size; r++) {
    std::atomic<uint32_t> *w = shm.stage[r];
    for (int spin = 0;; spin++) {
      uint32_t v = w->load(std::memory_order_acquire);
      if (static_cast<int32_t>(v - target) >= 0) break;
      if (spin < 100) continue;
#ifdef __linux__
      struct timespec ts = {0, 20 * 1000 * 1000};
      syscall(SYS_futex, reinterpret_cast<uint32_t *>(w), FUTEX_WAIT, v, &ts, nullptr, 0);
#else
      std::this_thread::yield();
#endif
    }
  }
}

// Collective (every rank, in the same order): finds out whether all ranks share this host, then (re)allocates the
// window so each segment holds at least `floats` values. Returns false when the window cannot be used.
bool shmReserve(size_t floats) {
  if (!shm.tried) {
    shm.tried = true;
#ifndef __linux__
    shm.why = "no futex outside Linux";
    return false;
#else
    int worldSize = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &worldSize);
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &shm.node) != MPI_SUCCESS) {
      shm.why = "MPI_Comm_split_type failed";
      return false;
    }
    MPI_Comm_rank(shm.node, &shm.rank);
    MPI_Comm_size(shm.node, &shm.size);
    if (shm.size != worldSize) {
      shm.why = "the ranks span several hosts";
      return false;
    }
    shm.usable = true;
#endif
  }
  if (!shm.usable) return false;
  if (floats <= shm.capacity) return true;
  // Every rank has finished reading the old window before it goes.
  if (shm.win != MPI_WIN_NULL) {
    waitAll(3 * shm.ops);
    MPI_Win_free(&shm.win);
  }
  shm.stage.assign(shm.size, nullptr);
  shm.data.assign(shm.size, nullptr);
  shm.ops = 0;
  size_t cap = std::max(floats, static_cast<size_t>(1) << 20);
  MPI_Info info;
  MPI_Info_create(&info);
  MPI_Info_set(info, "alloc_shared_noncontig", "true");
  void *mine = nullptr;
  int rc = MPI_Win_allocate_shared(static_cast<MPI_Aint>(kHeader + 4 * cap), 4, info, shm.node, &mine, &shm.win);
  MPI_Info_free(&info);
  if (rc != MPI_SUCCESS) {
    shm.usable = false;
    shm.why = "MPI_Win_allocate_shared of " + std::to_string(kHeader + 4 * cap) + " bytes failed: " + mpiErrorText(rc);
    shm.win = MPI_WIN_NULL;
    return false;
  }
  new (mine) std::atomic<uint32_t>(0);
  for (int r = 0; r < shm.size; r++) {
    MPI_Aint bytes = 0;
    int unit = 0;
    void *base = nullptr;
    MPI_Win_shared_query(shm.win, r, &bytes, &unit, &base);
    shm.stage[r] = reinterpret_cast<std::atomic<uint32_t> *>(base);
    shm.data[r] = reinterpret_cast<float *>(static_cast<char *>(base) + kHeader);
  }
  shm.capacity = cap;
  MPI_Barrier(shm.node);  // every counter is initialized before anyone reads it
  return true;
}

// Slice q of n values over the ranks: [lo, hi).
void sliceOf(size_t n, int q, size_t &lo, size_t &hi) {
  size_t per = (n + shm.size - 1) / shm.size;
  lo = std::min(n, per * q);
  hi = std::min(n, lo + per);
}

// Sum over ranks of the concatenated parts, in place, through the window. A rank copies into its segment only the
// slices the others reduce (its own slice it reads straight from its parts), sums its slice block by block from
// every rank in rank order, writes the sum to its parts and to its segment (for the others), then copies the other
// slices' sums from their owners' segments: per rank about 2·S bytes read and 2·S written for S bytes of parts.
// acc[0..len) = the sum over ranks, in rank order (identical bits on every rank), of elements [b, b + len) of the
// collective: this rank's own values copied from its parts into `own`, the others' read from their segments.
void sumBlock(const std::vector<Part> &parts, size_t b, size_t len, float *own, float *acc) {
  forRange(parts, b, b + len, [&](float *p, size_t at, size_t k) { std::memcpy(own + (at - b), p, 4 * k); });
  for (int r = 0; r < shm.size; r++) {
    const float *src = r == shm.rank ? own : shm.data[r] + b;
    if (r == 0) for (size_t i = 0; i < len; i++) acc[i] = src[i];
    else for (size_t i = 0; i < len; i++) acc[i] += src[i];
  }
}

void shmAllreduce(const std::vector<Part> &parts, size_t n) {
  const uint32_t base = 3 * shm.ops;
  waitAll(base);  // every rank has finished reading the previous collective's segments
  float *mine = shm.data[shm.rank];
  size_t lo, hi;
  sliceOf(n, shm.rank, lo, hi);
  auto copyIn = [&](float *p, size_t at, size_t len) { std::memcpy(mine + at, p, 4 * len); };
  forRange(parts, 0, lo, copyIn);
  forRange(parts, hi, n, copyIn);
  setStage(base + 1);
  waitAll(base + 1);
  constexpr size_t kBlock = 4096;
  float acc[kBlock], own[kBlock];
  for (size_t b = lo; b < hi; b += kBlock) {
    const size_t len = std::min(kBlock, hi - b);
    sumBlock(parts, b, len, own, acc);
    std::memcpy(mine + b, acc, 4 * len);
    forRange(parts, b, b + len, [&](float *p, size_t at, size_t k) { std::memcpy(p, acc + (at - b), 4 * k); });
  }
  setStage(base + 2);
  waitAll(base + 2);
  for (int r = 0; r < shm.size; r++) {
    if (r == shm.rank) continue;
    size_t a, z;
    sliceOf(n, r, a, z);
    const float *theirs = shm.data[r];
    forRange(parts, a, z, [&](float *p, size_t at, size_t len) { std::memcpy(p, theirs + at, 4 * len); });
  }
  setStage(base + 3);
  shm.ops++;
}

// Rank r receives the sum over ranks of block r of send (size × m values).
void shmReduceScatter(const float *send, float *recv, size_t m) {
  const uint32_t base = 3 * shm.ops;
  waitAll(base);
  float *mine = shm.data[shm.rank];
  const size_t lo = m * shm.rank;
  // The others' blocks only: this rank reads its own block straight from send.
  std::memcpy(mine, send, 4 * lo);
  std::memcpy(mine + lo + m, send + lo + m, 4 * (m * (shm.size - 1 - shm.rank)));
  setStage(base + 1);
  waitAll(base + 1);
  for (int r = 0; r < shm.size; r++) {
    const float *src = r == shm.rank ? send + lo : shm.data[r] + lo;
    if (r == 0) for (size_t i = 0; i < m; i++) recv[i] = src[i];
    else for (size_t i = 0; i < m; i++) recv[i] += src[i];
  }
  setStage(base + 3);
  shm.ops++;
}

// recv (size × m values) receives every rank's send in rank order.
void shmAllgather(const float *send, float *recv, size_t m) {
  const uint32_t base = 3 * shm.ops;
  waitAll(base);
  std::memcpy(shm.data[shm.rank], send, 4 * m);
  setStage(base + 1);
  waitAll(base + 1);
  for (int r = 0; r < shm.size; r++) std::memcpy(recv + m * r, shm.data[r], 4 * m);
  setStage(base + 3);
  shm.ops++;
}

// Rank r sums over ranks its slice (sliceOf) of the concatenated parts, in rank order (the bits of one process
// accumulating the ranks' micro-batches in that order), block by block: onBlock(sum, slice offset, length). Each
// rank copies into its segment only the other ranks' slices (its own it reads from its parts): per rank about S
// bytes copied and S/N·N read. present (one flag per part, or empty) travels with the data: after the call
// anyPresent[i] says whether any rank had part i (a parameter no rank has a gradient for is left alone).
template <typename OnBlock>
void shmReduceSlice(const std::vector<Part> &parts, size_t n, const std::vector<uint8_t> &present, std::vector<uint8_t> &anyPresent,
                    OnBlock onBlock) {
  const uint32_t base = 3 * shm.ops;
  waitAll(base);
  float *mine = shm.data[shm.rank];
  size_t lo, hi;
  sliceOf(n, shm.rank, lo, hi);
  auto copyIn = [&](float *p, size_t at, size_t len) { std::memcpy(mine + at, p, 4 * len); };
  forRange(parts, 0, lo, copyIn);
  forRange(parts, hi, n, copyIn);
  for (size_t i = 0; i < present.size(); i++) mine[n + i] = present[i] ? 1.0f : 0.0f;
  setStage(base + 1);
  waitAll(base + 1);
  anyPresent.assign(present.size(), 0);
  for (size_t i = 0; i < present.size(); i++)
    for (int r = 0; r < shm.size; r++) anyPresent[i] |= (r == shm.rank ? present[i] : shm.data[r][n + i] != 0.0f);
  constexpr size_t kBlock = 4096;
  float own[kBlock], acc[kBlock];
  for (size_t b = lo; b < hi; b += kBlock) {
    const size_t len = std::min(kBlock, hi - b);
    sumBlock(parts, b, len, own, acc);
    onBlock(acc, b - lo, len);
  }
  setStage(base + 3);
  shm.ops++;
}

// Every rank has reached this point (the window's counters: no MPI polling while a rank waits).
void shmBarrier() {
  const uint32_t next = 3 * (shm.ops + 1);
  setStage(next);
  waitAll(next);
  shm.ops++;
}

// Collective: rank 0 creates a POSIX shared-memory object of `bytes` (zero pages), broadcasts its name, every rank
// maps it, and the name is unlinked once all have it. Never unmapped: JavaScript arrays over it may outlive MPI.
// Returns nullptr on every rank when any rank could not map it (why says which and why).
void *shmMapShared(size_t bytes, std::string &why) {
  static int made = 0;
  char name[64] = {0};
  int fd = -1;
  if (shm.rank == 0) {
    std::snprintf(name, sizeof name, "/zhiyu-%d-%d", static_cast<int>(getpid()), made++);
    fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
    // posix_fallocate reserves every page now: a /dev/shm too small for the array (a container's 64 MB default)
    // fails here, and the ranks keep their own copies, instead of a SIGBUS at the first write past its end.
    int err = fd < 0 ? errno : posix_fallocate(fd, 0, static_cast<off_t>(bytes));
    if (fd >= 0 && err != 0) { close(fd); shm_unlink(name); fd = -1; }
    if (fd < 0) { why = std::string("rank 0: reserving ") + std::to_string(bytes) + " bytes of shared memory (/dev/shm): " + std::strerror(err); name[0] = 0; }
  }
  MPI_Bcast(name, sizeof name, MPI_CHAR, 0, shm.node);
  void *p = nullptr;
  if (name[0]) {
    if (shm.rank != 0) fd = shm_open(name, O_RDWR, 0600);
    if (fd >= 0) {
      p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (p == MAP_FAILED) p = nullptr;
      close(fd);
    }
    if (!p && why.empty()) why = "rank " + std::to_string(shm.rank) + ": mapping " + name + ": " + std::strerror(errno);
  }
  int ok = p ? 1 : 0, all = 0;
  MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, shm.node);
  if (shm.rank == 0 && name[0]) shm_unlink(name);
  if (!all) {
    if (p) munmap(p, bytes);
    if (why.empty()) why = "another rank could not map the shared array";
    return nullptr;
  }
  return p;
}

// Frees the window once every rank has finished reading it (before MPI_Finalize, on every rank).
void shmRelease() {
  if (shm.win == MPI_WIN_NULL) return;
  waitAll(3 * shm.ops);
  MPI_Win_free(&shm.win);
  shm.usable = false;
}


// Runs fn on the communication thread and waits for it (init, finalize: rare and short).
void runSync(std::function<void()> fn) {
  std::mutex m;
  std::condition_variable cv;
  bool finished = false;
  {
    std::lock_guard<std::mutex> lock(comm->mu);
    comm->syncQueue.push_back([&] {
      fn();
      std::lock_guard<std::mutex> l(m);
      finished = true;
      cv.notify_one();
    });
  }
  comm->cv.notify_one();
  std::unique_lock<std::mutex> lock(m);
  cv.wait(lock, [&] { return finished; });
}

Napi::Value MpiInit(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  // mpiInit({sharedMemory: false}) keeps every collective on MPI's own transport (comparisons, troubleshooting).
  bool sharedMemory = true;
  if (info.Length() > 0 && info[0].IsObject()) {
    Napi::Value v = info[0].As<Napi::Object>().Get("sharedMemory");
    if (v.IsBoolean()) sharedMemory = v.As<Napi::Boolean>().Value();
  }
  if (comm && comm->finalized) {
    zy::fail(info, "mpiInit: MPI was finalized in this process and cannot start again");
    return env.Undefined();
  }
  if (!comm) {
    comm = new Comm();
    comm->done = Napi::ThreadSafeFunction::New(env, Napi::Function::New(env, [](const Napi::CallbackInfo &) {}),
                                               "zhiyu-mpi", 0, 1);
    comm->done.Unref(env);
    comm->thread = std::thread(threadMain);
    int rc = MPI_SUCCESS;
    runSync([&] {
      // Node loads this addon with RTLD_LOCAL; Open MPI's plugins expect libmpi's symbols to be global.
      Dl_info where;
      if (dladdr(reinterpret_cast<void *>(&MPI_Init_thread), &where) && where.dli_fname)
        dlopen(where.dli_fname, RTLD_NOW | RTLD_GLOBAL | RTLD_NOLOAD);
      int provided = 0;
      rc = MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
      if (rc != MPI_SUCCESS) return;
      MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
      MPI_Comm_rank(MPI_COMM_WORLD, &comm->rank);
      MPI_Comm_size(MPI_COMM_WORLD, &comm->size);
      comm->threadLevel = provided;
      char lib[MPI_MAX_LIBRARY_VERSION_STRING];
      int len = 0;
      MPI_Get_library_version(lib, &len);
      comm->library = std::string(lib, len);
      while (!comm->library.empty() && (comm->library.back() == '\n' || comm->library.back() == '\0')) comm->library.pop_back();
      comm->initialized = true;
      if (sharedMemory) {
        shmReserve(0);  // collective: finds out whether every rank shares this host
      } else {
        shm.tried = true;
        shm.why = "turned off";
      }
    });
    if (rc != MPI_SUCCESS) {
      zy::fail(info, "mpiInit: MPI_Init_thread failed (" + std::to_string(rc) + "); is this process started by mpirun?");
      return env.Undefined();
    }
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("rank", comm->rank);
  out.Set("size", comm->size);
  out.Set("threadLevel", comm->threadLevel == MPI_THREAD_MULTIPLE ? "multiple"
                         : comm->threadLevel == MPI_THREAD_SERIALIZED ? "serialized"
                         : comm->threadLevel == MPI_THREAD_FUNNELED ? "funneled" : "single");
  out.Set("library", comm->library);
  out.Set("transport", shm.usable ? "shared-memory window" : "MPI collectives (" + shm.why + ")");
  return out;
}

Napi::Value MpiFinalize(const Napi::CallbackInfo &info) {
  if (!comm || comm->finalized) return info.Env().Undefined();
  // The thread finishes every queued collective, then calls MPI_Finalize and exits.
  comm->finalized = true;
  {
    std::lock_guard<std::mutex> lock(comm->mu);
    comm->stop = true;
  }
  comm->cv.notify_one();
  comm->thread.join();
  comm->done.Release();
  return info.Env().Undefined();
}

bool requireInit(zy::Args &a) {
  if (!comm || !comm->initialized) return a.fail("MPI is not initialized; call mpiInit() first");
  if (comm->finalized) return a.fail("MPI was finalized");
  return true;
}

// A Float32Array or Float64Array argument: pointer, element count, MPI type.
struct Buf {
  void *ptr = nullptr;
  size_t n = 0;
  MPI_Datatype type = MPI_FLOAT;
  bool f64 = false;
};
Buf floatBuffer(zy::Args &a, const Napi::Value &v, const std::string &name) {
  Buf b;
  if (!a.ok()) return b;
  if (zy::isTyped(v, napi_float64_array)) {
    b.ptr = a.array<double>(v, name, napi_float64_array, "Float64Array", 0, false, &b.n);
    b.type = MPI_DOUBLE;
    b.f64 = true;
  } else {
    b.ptr = a.array<float>(v, name, napi_float32_array, "Float32Array or Float64Array", 0, false, &b.n);
  }
  if (a.ok() && b.n > static_cast<size_t>(INT32_MAX)) a.fail(name + " has " + std::to_string(b.n) + " elements; at most 2^31 − 1 per call");
  return b;
}

Napi::Value submit(zy::Args &a, const char *op, std::function<int()> run, const std::vector<Napi::Value> &keep) {
  Napi::Env env = a.env();
  Job *job = new Job(env);
  job->op = op;
  job->run = std::move(run);
  for (const auto &v : keep) job->keep.push_back(Napi::Persistent(v));
  Napi::Promise promise = job->deferred.Promise();
  if (comm->pending++ == 0) comm->done.Ref(env);
  {
    std::lock_guard<std::mutex> lock(comm->mu);
    comm->queue.push_back(job);
  }
  comm->cv.notify_one();
  return promise;
}

// Queues a job behind the pending collectives and waits for it on the calling (JavaScript) thread; returns its rc.
int runBlocking(Napi::Env env, const char *op, std::function<int()> run) {
  Job *job = new Job(env);
  job->op = op;
  job->blocking = true;
  job->run = std::move(run);
  {
    std::lock_guard<std::mutex> lock(comm->mu);
    comm->queue.push_back(job);
  }
  comm->cv.notify_one();
  {
    std::unique_lock<std::mutex> l(job->finishedMu);
    job->finishedCv.wait(l, [job] { return job->finished; });
  }
  int rc = job->rc;
  job->deferred.Resolve(env.Undefined());
  delete job;
  return rc;
}

Napi::Value MpiAllreduce(const Napi::CallbackInfo &info) {
  zy::Args a(info, "mpiAllreduce");
  if (!a.atLeast(1, "buf") || !requireInit(a)) return a.done();
  if (a.arg(0).IsArray()) {
    // Parts: reduced as one buffer, their concatenation.
    auto arr = a.arg(0).As<Napi::Array>();
    std::vector<Part> parts;
    size_t n = 0;
    for (uint32_t i = 0; i < arr.Length() && a.ok(); i++) {
      size_t len = 0;
      float *p = a.array<float>(arr.Get(i), "buf[" + std::to_string(i) + "]", napi_float32_array, "Float32Array", 0, false, &len);
      parts.push_back({p, len});
      n += len;
    }
    if (a.ok() && n > static_cast<size_t>(INT32_MAX)) a.fail("the parts hold " + std::to_string(n) + " elements; at most 2^31 − 1 per call");
    if (!a.ok()) return a.done();
    return submit(a, "mpiAllreduce", [parts, n] {
      if (n == 0) return MPI_SUCCESS;
      if (shmReserve(n)) {
        shmAllreduce(parts, n);
        return MPI_SUCCESS;
      }
      std::vector<float> packed(n);
      forRange(parts, 0, n, [&](float *p, size_t at, size_t len) { std::memcpy(packed.data() + at, p, 4 * len); });
      int rc = MPI_Allreduce(MPI_IN_PLACE, packed.data(), static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      if (rc == MPI_SUCCESS) forRange(parts, 0, n, [&](float *p, size_t at, size_t len) { std::memcpy(p, packed.data() + at, 4 * len); });
      return rc;
    }, {a.arg(0)});
  }
  Buf b = floatBuffer(a, a.arg(0), "buf");
  if (!a.ok()) return a.done();
  return submit(a, "mpiAllreduce", [b] {
    if (!b.f64 && b.n > 0 && shmReserve(b.n)) {
      shmAllreduce({{static_cast<float *>(b.ptr), b.n}}, b.n);
      return MPI_SUCCESS;
    }
    return MPI_Allreduce(MPI_IN_PLACE, b.ptr, static_cast<int>(b.n), b.type, MPI_SUM, MPI_COMM_WORLD);
  }, {a.arg(0)});
}

Napi::Value MpiReduceScatter(const Napi::CallbackInfo &info) {
  zy::Args a(info, "mpiReduceScatter");
  if (!a.atLeast(2, "send, recv") || !requireInit(a)) return a.done();
  size_t ns = 0, nr = 0;
  float *send = a.array<float>(a.arg(0), "send", napi_float32_array, "Float32Array", 0, false, &ns);
  float *recv = a.array<float>(a.arg(1), "recv", napi_float32_array, "Float32Array", 0, false, &nr);
  if (a.ok() && ns != nr * static_cast<size_t>(comm->size))
    a.fail("send has " + std::to_string(ns) + " elements; it must hold size (" + std::to_string(comm->size) +
           ") × recv.length (" + std::to_string(nr) + ")");
  if (a.ok() && nr > static_cast<size_t>(INT32_MAX)) a.fail("recv has more than 2^31 − 1 elements");
  if (!a.ok()) return a.done();
  return submit(a, "mpiReduceScatter", [send, recv, nr] {
    if (nr > 0 && shmReserve(nr * shm.size)) {
      shmReduceScatter(send, recv, nr);
      return MPI_SUCCESS;
    }
    return MPI_Reduce_scatter_block(send, recv, static_cast<int>(nr), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }, {a.arg(0), a.arg(1)});
}

Napi::Value MpiAllgather(const Napi::CallbackInfo &info) {
  zy::Args a(info, "mpiAllgather");
  if (!a.atLeast(2, "send, recv") || !requireInit(a)) return a.done();
  Buf s = floatBuffer(a, a.arg(0), "send");
  Buf r = floatBuffer(a, a.arg(1), "recv");
  if (a.ok() && s.f64 != r.f64) a.fail("send and recv must both be Float32Array or both Float64Array");
  if (a.ok() && r.n != s.n * static_cast<size_t>(comm->size))
    a.fail("recv has " + std::to_string(r.n) + " elements; it must hold size (" + std::to_string(comm->size) +
           ") × send.length (" + std::to_string(s.n) + ")");
  if (!a.ok()) return a.done();
  return submit(a, "mpiAllgather", [s, r] {
    if (!s.f64 && s.n > 0 && shmReserve(s.n)) {
      shmAllgather(static_cast<const float *>(s.ptr), static_cast<float *>(r.ptr), s.n);
      return MPI_SUCCESS;
    }
    return MPI_Allgather(s.ptr, static_cast<int>(s.n), s.type, r.ptr, static_cast<int>(s.n), r.type, MPI_COMM_WORLD);
  }, {a.arg(0), a.arg(1)});
}

// mpiAllgatherNow(send, recv): the all-gather, but the calling (JavaScript) thread waits for it — for a loss that
// needs every rank's values in the middle of a forward pass. Queued behind the pending collectives, in order.
Napi::Value MpiAllgatherNow(const Napi::CallbackInfo &info) {
  zy::Args a(info, "mpiAllgatherNow");
  if (!a.atLeast(2, "send, recv") || !requireInit(a)) return a.done();
  size_t ns = 0, nr = 0;
  float *send = a.array<float>(a.arg(0), "send", napi_float32_array, "Float32Array", 0, false, &ns);
  float *recv = a.array<float>(a.arg(1), "recv", napi_float32_array, "Float32Array", 0, false, &nr);
  if (a.ok() && nr != ns * static_cast<size_t>(comm->size))
    a.fail("recv has " + std::to_string(nr) + " elements; it must hold size (" + std::to_string(comm->size) + ") × send.length (" +
           std::to_string(ns) + ")");
  if (!a.ok()) return a.done();
  int rc = runBlocking(a.env(), "mpiAllgatherNow", [send, recv, ns] {
    if (ns > 0 && shmReserve(ns)) {
      shmAllgather(send, recv, ns);
      return MPI_SUCCESS;
    }
    return MPI_Allgather(send, static_cast<int>(ns), MPI_FLOAT, recv, static_cast<int>(ns), MPI_FLOAT, MPI_COMM_WORLD);
  });
  if (rc != MPI_SUCCESS) a.fail(mpiErrorText(rc));
  return a.env().Undefined();
}

Napi::Value MpiBroadcast(const Napi::CallbackInfo &info) {
  zy::Args a(info, "mpiBroadcast");
  if (!a.atLeast(2, "buf, root") || !requireInit(a)) return a.done();
  Buf b = floatBuffer(a, a.arg(0), "buf");
  int64_t root = a.count(a.arg(1), "root");
  if (a.ok() && root >= comm->size) a.fail("root " + std::to_string(root) + " is not a rank (size " + std::to_string(comm->size) + ")");
  if (!a.ok()) return a.done();
  int r = static_cast<int>(root);
  return submit(a, "mpiBroadcast", [b, r] { return MPI_Bcast(b.ptr, static_cast<int>(b.n), b.type, r, MPI_COMM_WORLD); },
                {a.arg(0)});
}

Napi::Value MpiBarrier(const Napi::CallbackInfo &info) {
  zy::Args a(info, "mpiBarrier");
  if (!requireInit(a)) return a.done();
  return submit(a, "mpiBarrier", [] {
    if (shmReserve(1)) {  // the window's counters (allocated on first use)
      shmBarrier();
      return MPI_SUCCESS;
    }
    return MPI_Barrier(MPI_COMM_WORLD);
  }, {});
}

Napi::Value MpiSharedArray(const Napi::CallbackInfo &info) {
  zy::Args a(info, "mpiSharedArray");
  if (!a.atLeast(1, "floats") || !requireInit(a)) return a.done();
  int64_t floats = a.count(a.arg(0), "floats");
  if (a.ok() && floats < 1) a.fail("floats must be at least 1");
  if (!a.ok()) return a.done();
  const size_t bytes = 4 * static_cast<size_t>(floats);
  void *p = nullptr;
  std::string why;
  int rc = runBlocking(a.env(), "mpiSharedArray", [&] {
    if (!shm.usable) return MPI_SUCCESS;
    p = shmMapShared(bytes, why);
    return MPI_SUCCESS;
  });
  if (rc != MPI_SUCCESS) { a.fail(mpiErrorText(rc)); return a.done(); }
  if (!p) {
    if (!why.empty()) zy::fail(info, "mpiSharedArray: " + why);
    return a.env().Null();
  }
  // Never unmapped (no finalizer that frees): the array stays valid after MPI_Finalize.
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(a.env(), p, bytes);
  return Napi::Float32Array::New(a.env(), static_cast<size_t>(floats), ab, 0);
}

// One piece of this rank's slice that the fused update writes: `len` elements at slice offset `at`, of a
// parameter (and its moments) at param/m/v; part = the index of the part (parameter) it belongs to.
struct UpdatePiece {
  size_t at, len;
  float *param, *m, *v;
  int decay;
  uint32_t part;
};
struct UpdateHyper {
  float lr, beta1, beta2, eps, weightDecay;
  int64_t step;
};

// mpiReduceSlice(parts, out | null, update?): see the header. With update = {pieces: [{at, param, m, v, decay,
// part}], present: Uint8Array (one flag per part), lr, beta1, beta2, eps, weightDecay, step}, each block of the
// summed slice goes straight into AdamW on the pieces it covers (no gradient shard written and read back), pieces
// of parameters no rank had a gradient for skipped; out may then be null.
Napi::Value MpiReduceSlice(const Napi::CallbackInfo &info) {
  zy::Args a(info, "mpiReduceSlice");
  if (!a.atLeast(2, "parts, out") || !requireInit(a)) return a.done();
  if (!a.arg(0).IsArray()) { a.fail("parts must be an array of Float32Arrays"); return a.done(); }
  auto arr = a.arg(0).As<Napi::Array>();
  std::vector<Part> parts;
  size_t n = 0;
  for (uint32_t i = 0; i < arr.Length() && a.ok(); i++) {
    size_t len = 0;
    float *p = a.array<float>(arr.Get(i), "parts[" + std::to_string(i) + "]", napi_float32_array, "Float32Array", 0, false, &len);
    parts.push_back({p, len});
    n += len;
  }
  if (!a.ok()) return a.done();
  if (!shm.usable) { a.fail("needs the shared-memory window (every rank on this host, shared memory not turned off)"); return a.done(); }
  const size_t per = (n + comm->size - 1) / comm->size;
  const size_t lo = std::min(n, per * comm->rank), want = std::min(n, lo + per) - lo;
  float *out = nullptr;
  if (!a.arg(1).IsNull()) {
    size_t nOut = 0;
    out = a.array<float>(a.arg(1), "out", napi_float32_array, "Float32Array", 0, false, &nOut);
    if (a.ok() && nOut != want)
      a.fail("out has " + std::to_string(nOut) + " values; rank " + std::to_string(comm->rank) + "'s slice of " + std::to_string(n) +
             " values over " + std::to_string(comm->size) + " ranks has " + std::to_string(want));
  }
  std::vector<UpdatePiece> pieces;
  std::vector<uint8_t> present;
  UpdateHyper hyper{};
  std::vector<Napi::Value> keep = {a.arg(0)};
  if (!a.arg(1).IsNull()) keep.push_back(a.arg(1));
  const bool fused = info.Length() > 2 && info[2].IsObject();
  if (fused && a.ok()) {
    Napi::Object u = info[2].As<Napi::Object>();
    keep.push_back(u);
    size_t flags = 0;
    uint8_t *f = a.array<uint8_t>(u.Get("present"), "update.present", napi_uint8_array, "Uint8Array", 0, false, &flags);
    if (a.ok() && flags != parts.size()) a.fail("update.present has " + std::to_string(flags) + " flags for " + std::to_string(parts.size()) + " parts");
    if (a.ok()) present.assign(f, f + flags);
    auto num = [&](const char *k) { Napi::Value v = u.Get(k); if (!v.IsNumber()) a.fail(std::string("update.") + k + " must be a number"); return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : 0.0; };
    hyper = {static_cast<float>(num("lr")), static_cast<float>(num("beta1")), static_cast<float>(num("beta2")), static_cast<float>(num("eps")),
             static_cast<float>(num("weightDecay")), static_cast<int64_t>(num("step"))};
    Napi::Value pv = u.Get("pieces");
    if (a.ok() && !pv.IsArray()) a.fail("update.pieces must be an array");
    if (a.ok()) {
      auto pa = pv.As<Napi::Array>();
      size_t end = 0;
      for (uint32_t i = 0; i < pa.Length() && a.ok(); i++) {
        Napi::Object o = pa.Get(i).As<Napi::Object>();
        const std::string at = "update.pieces[" + std::to_string(i) + "]";
        size_t lp = 0, lm = 0, lv = 0;
        float *pp = a.array<float>(o.Get("param"), at + ".param", napi_float32_array, "Float32Array", 0, false, &lp);
        float *pm = a.array<float>(o.Get("m"), at + ".m", napi_float32_array, "Float32Array", 0, false, &lm);
        float *pvv = a.array<float>(o.Get("v"), at + ".v", napi_float32_array, "Float32Array", 0, false, &lv);
        double off = o.Get("at").IsNumber() ? o.Get("at").As<Napi::Number>().DoubleValue() : -1;
        double part = o.Get("part").IsNumber() ? o.Get("part").As<Napi::Number>().DoubleValue() : -1;
        if (!a.ok()) break;
        if (lm != lp || lv != lp) { a.fail(at + ": param, m and v must have one length"); break; }
        if (off < static_cast<double>(end) || off + static_cast<double>(lp) > static_cast<double>(want)) { a.fail(at + ".at must follow the previous piece inside the slice"); break; }
        if (part < 0 || part >= static_cast<double>(parts.size())) { a.fail(at + ".part is not a part index"); break; }
        pieces.push_back({static_cast<size_t>(off), lp, pp, pm, pvv, o.Get("decay").ToBoolean().Value() ? 1 : 0, static_cast<uint32_t>(part)});
        end = static_cast<size_t>(off) + lp;
      }
    }
  } else if (a.ok() && !out) {
    a.fail("out may be null only with an update");
  }
  if (!a.ok()) return a.done();
  const size_t extra = present.size();
  return submit(a, "mpiReduceSlice", [parts, n, out, pieces, present, hyper, extra] {
    if (n == 0) return MPI_SUCCESS;
    if (!shmReserve(n + extra)) return MPI_ERR_OTHER;
    std::vector<uint8_t> any;
    size_t next = 0;  // first piece that may still overlap a block (blocks come in slice order)
    shmReduceSlice(parts, n, present, any, [&](const float *sum, size_t b, size_t len) {
      if (out) std::memcpy(out + b, sum, 4 * len);
      while (next < pieces.size() && pieces[next].at + pieces[next].len <= b) next++;
      for (size_t k = next; k < pieces.size() && pieces[k].at < b + len; k++) {
        const UpdatePiece &p = pieces[k];
        if (!any[p.part]) continue;
        const size_t x0 = std::max(b, p.at), x1 = std::min(b + len, p.at + p.len);
        zy_op_adamw_st(p.param + (x0 - p.at), sum + (x0 - b), p.m + (x0 - p.at), p.v + (x0 - p.at), static_cast<int64_t>(x1 - x0),
                       hyper.lr, hyper.beta1, hyper.beta2, hyper.eps, hyper.weightDecay, hyper.step, p.decay);
      }
    });
    return MPI_SUCCESS;
  }, keep);
}

Napi::Value MpiAbort(const Napi::CallbackInfo &info) {
  zy::Args a(info, "mpiAbort");
  int64_t code = a.count(a.arg(0), "code");
  if (!a.ok()) return a.done();
  // Called from the JS thread on purpose: the communication thread may be stuck in a collective.
  MPI_Abort(MPI_COMM_WORLD, static_cast<int>(code));
  return info.Env().Undefined();
}

}  // namespace

ZY_REGISTER("mpiInit", MpiInit);
ZY_REGISTER("mpiFinalize", MpiFinalize);
ZY_REGISTER("mpiAllreduce", MpiAllreduce);
ZY_REGISTER("mpiReduceScatter", MpiReduceScatter);
ZY_REGISTER("mpiAllgather", MpiAllgather);
ZY_REGISTER("mpiAllgatherNow", MpiAllgatherNow);
ZY_REGISTER("mpiBroadcast", MpiBroadcast);
ZY_REGISTER("mpiBarrier", MpiBarrier);
ZY_REGISTER("mpiAbort", MpiAbort);
ZY_REGISTER("mpiSharedArray", MpiSharedArray);
ZY_REGISTER("mpiReduceSlice", MpiReduceSlice);
#endif
