// `tessera sweep --mpi`: the ranks of MPI_COMM_WORLD share a sweep's points;
// rank 0 owns the results database. Built with MPI where CMake finds it
// (TESSERA_HAVE_MPI); otherwise --mpi says so.
//
// Protocol: every rank loads the spec and enumerates the same points. Rank 0
// opens the database and broadcasts the positions still to run (or -1 when it
// cannot open the file: every rank then stops). Rank r runs the positions
// p with p % size == r on its own threads; rows of ranks > 0 travel to rank 0
// as text (tag 1), each rank ends with an empty message (tag 2). Only rank 0's
// main thread calls MPI besides the other ranks' main threads (MPI_THREAD_FUNNELED).
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <thread>

#include "core/error.h"
#include "sim/tools/sweep_run.h"

#ifdef TESSERA_HAVE_MPI
#include <mpi.h>
#endif

namespace tessera {

#ifndef TESSERA_HAVE_MPI

bool sweep_mpi_built() { return false; }

int run_sweep_mpi(const SweepSpec&, const std::vector<SweepPoint>&, const SweepRunOptions&, std::ostream&,
                  std::ostream&) {
  throw InputError("--mpi: this tessera was built without MPI (install libopenmpi-dev and rebuild); use --shard "
                   "I/N for several processes");
}

#else

bool sweep_mpi_built() { return true; }

namespace {
constexpr int kRowTag = 1, kDoneTag = 2;

struct MpiSession {
  MpiSession() {
    int provided = 0;
    MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
  }
  ~MpiSession() { MPI_Finalize(); }
};
}  // namespace

int run_sweep_mpi(const SweepSpec& spec, const std::vector<SweepPoint>& points, const SweepRunOptions& o,
                  std::ostream& out, std::ostream& err) {
  MpiSession session;
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  std::unique_ptr<SweepStore> store;
  std::vector<long long> pending_pos;
  long long count = 0;
  std::string open_error;
  if (rank == 0) {
    try {
      store = SweepStore::open_for(o.out, spec, o.append);
      const auto done = store->done_ids();
      for (size_t i = 0; i < points.size(); ++i) {
        if (static_cast<int>(i % static_cast<size_t>(o.shard_count)) != o.shard_index || done.count(points[i].id)) continue;
        if (o.limit >= 0 && static_cast<long long>(pending_pos.size()) >= o.limit) break;
        pending_pos.push_back(static_cast<long long>(i));
      }
      count = static_cast<long long>(pending_pos.size());
    } catch (const InputError& e) {
      open_error = e.what();
      count = -1;
    }
  }
  MPI_Bcast(&count, 1, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  if (count < 0) {
    if (rank == 0) throw InputError(open_error);
    return 2;
  }
  pending_pos.resize(static_cast<size_t>(count));
  if (count > 0) MPI_Bcast(pending_pos.data(), static_cast<int>(count), MPI_LONG_LONG, 0, MPI_COMM_WORLD);
  std::vector<const SweepPoint*> mine;
  for (size_t i = 0; i < pending_pos.size(); ++i)
    if (static_cast<int>(i % static_cast<size_t>(size)) == rank) mine.push_back(&points[static_cast<size_t>(pending_pos[i])]);
  const int jobs = o.jobs > 0 ? o.jobs : std::max(1u, std::thread::hardware_concurrency());
  PointEvaluator ev(spec);
  if (rank != 0) {
    run_points(ev, mine, jobs, [&](std::vector<SweepRow>& rows) {
      for (const auto& r : rows) {
        const std::string t = row_to_text(r);
        MPI_Send(t.data(), static_cast<int>(t.size()), MPI_CHAR, 0, kRowTag, MPI_COMM_WORLD);
      }
    });
    MPI_Send(nullptr, 0, MPI_CHAR, 0, kDoneTag, MPI_COMM_WORLD);
    return 0;
  }
  SweepProgress progress(count, err, o.quiet);
  int64_t errors = 0;
  int remote_left = size - 1;
  auto write = [&](std::vector<SweepRow>& rows) {
    store->insert(rows);
    for (const auto& r : rows) errors += r.status != "ok";
    progress.add(static_cast<int64_t>(rows.size()));
  };
  auto poll = [&]() {
    for (;;) {
      int flag = 0;
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
      if (!flag) break;
      int len = 0;
      MPI_Get_count(&st, MPI_CHAR, &len);
      std::string buf(static_cast<size_t>(len), '\0');
      MPI_Recv(buf.data(), len, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (st.MPI_TAG == kDoneTag) {
        --remote_left;
      } else {
        std::vector<SweepRow> rows{row_from_text(buf)};
        write(rows);
      }
    }
    return remote_left > 0;
  };
  run_points(ev, mine, jobs, write, poll);
  progress.finish();
  fmt::print(out, "sweep: {} points in the spec; ran {} on {} MPI ranks ({} errors) into {}\n", points.size(), count,
             size, errors, o.out);
  return 0;
}

#endif

}  // namespace tessera
