#pragma once
// Running a sweep: every point of a spec in-process, on `jobs` threads, into a
// results database (sweep_store.h). Points already in the file are skipped
// (resume); a point that fails records its error and the sweep goes on.
//
// Determinism: a point's row depends only on its resolved parameters (the
// shared caches hold pure functions of their keys: the built workload per
// workload setting, the precision result per workload and accumulation path),
// so the file's content, `finished_at` aside, is the same for any --jobs,
// --shard split or MPI size.
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "sim/tools/sweep_spec.h"
#include "sim/tools/sweep_store.h"

namespace tessera {

struct SweepRunOptions {
  std::string out;            // results database (required)
  int jobs = 0;               // threads; 0 = the machine's cores
  int shard_index = 0;        // --shard I/N: this process runs the points with position % N == I
  int shard_count = 1;
  bool mpi = false;           // ranks of MPI_COMM_WORLD share the points; rank 0 writes
  int64_t limit = -1;         // run at most this many of the missing points (< 0: all)
  bool append = false;        // add this spec's points to a file holding another spec's
  bool quiet = false;         // no progress output
};

// Evaluates points; one per worker thread (it owns copies of the hardware trees).
class PointEvaluator {
 public:
  explicit PointEvaluator(const SweepSpec& spec);
  ~PointEvaluator();
  // A worker's private state (hardware trees cloned for its own use).
  struct Worker;
  std::unique_ptr<Worker> make_worker() const;
  SweepRow evaluate(const SweepPoint& p, Worker& w) const;

 private:
  struct Shared;
  const SweepSpec& m_spec;
  std::unique_ptr<Shared> m_shared;
};

// Runs `todo` on `jobs` threads. `sink` receives finished rows on the calling
// thread, as soon as they finish (in small batches); `poll` (optional) is
// called on the calling thread while waiting and returns false once it has
// nothing more to wait for (MPI: rows from other ranks).
void run_points(const PointEvaluator& ev, const std::vector<const SweepPoint*>& todo, int jobs,
                const std::function<void(std::vector<SweepRow>&)>& sink, const std::function<bool()>& poll = {});

// Progress on stderr: a bar with points done, rate and ETA on a terminal, one
// line per 10 % otherwise.
class SweepProgress {
 public:
  SweepProgress(int64_t total, std::ostream& err, bool quiet);
  void add(int64_t n);
  void finish();

 private:
  int64_t m_total, m_done = 0;
  std::ostream& m_err;
  bool m_quiet, m_tty;
  int m_last_decile = 0;
  double m_t0, m_last_draw = -1;
};

// `tessera sweep SPEC --out DB ...`: returns the exit code (0; 2 on spec errors
// via InputError). Prints a summary to `out`.
int run_sweep(const std::string& spec_path, const SweepRunOptions& o, std::ostream& out, std::ostream& err);

// The MPI variant (sweep_mpi.cpp; only built where CMake found MPI).
bool sweep_mpi_built();
int run_sweep_mpi(const SweepSpec& spec, const std::vector<SweepPoint>& points, const SweepRunOptions& o,
                  std::ostream& out, std::ostream& err);

// Serialisation of a row for transport between processes.
std::string row_to_text(const SweepRow& r);
SweepRow row_from_text(const std::string& s);

}  // namespace tessera
