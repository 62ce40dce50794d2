#include "sim/cli/sweep.h"

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "sim/tools/sweep_report.h"
#include "sim/tools/sweep_run.h"
#include "sim/tools/sweep_store.h"

namespace tessera {
namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

constexpr const char* kSweepUsage = R"(usage:
  tessera sweep SPEC.yaml --out results.db [--jobs N] [--shard I/N] [--mpi] [--limit N] [--append]
  tessera sweep report results.db [--pareto M,M[,M]] [--format text|csv|json] [--where EXPR] [--out FILE]
  tessera sweep merge OUT.db IN.db...
docs/sweeps.md describes the spec, the database and the metrics.
)";

po::variables_map parse_args(const po::options_description& desc, const po::positional_options_description& pos,
                             const std::vector<std::string>& args, const std::string& command) {
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(args).options(desc).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError(fmt::format("tessera {}: {}; see 'tessera {} --help'", command, e.what(), command));
  }
  return vm;
}

int sweep_report_cmd(const std::vector<std::string>& args, std::ostream& out) {
  std::string db, pareto, out_path;
  SweepReportOptions o;
  po::options_description desc("tessera sweep report options");
  desc.add_options()("help,h", "show this help")("db", po::value(&db), "results database")(
      "pareto", po::value(&pareto), "2 or 3 metrics, comma-separated: print (and mark) their Pareto front")(
      "format", po::value(&o.format), "text (default) | csv | json (every column of the selected points)")(
      "where", po::value(&o.where), "keep the points meeting this expression over the columns")(
      "out", po::value(&out_path), "write to this file instead of stdout");
  po::positional_options_description pos;
  pos.add("db", 1);
  auto vm = parse_args(desc, pos, args, "sweep report");
  if (vm.count("help")) {
    out << desc;
    return 0;
  }
  if (db.empty()) throw InputError("tessera sweep report: give the results database");
  if (!pareto.empty()) {
    std::stringstream ss(pareto);
    for (std::string m; std::getline(ss, m, ',');) o.pareto.push_back(m);
  }
  std::ostringstream os;
  sweep_report(db, o, os);
  if (out_path.empty()) {
    out << os.str();
    return 0;
  }
  write_file_atomic(out_path, os.str(), "--out");
  return 0;
}

}  // namespace

int cmd_sweep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    out << kSweepUsage;
    return 2;
  }
  if (args[0] == "report") return sweep_report_cmd(std::vector<std::string>(args.begin() + 1, args.end()), out);
  if (args[0] == "merge") {
    if (args.size() < 3) throw InputError("tessera sweep merge: expected OUT.db IN.db [IN.db...]");
    merge_sweeps(args[1], std::vector<std::string>(args.begin() + 2, args.end()));
    fmt::print(out, "sweep merge: {} inputs into {}\n", args.size() - 2, args[1]);
    return 0;
  }
  std::string spec, shard;
  SweepRunOptions o;
  po::options_description desc("tessera sweep options");
  desc.add_options()("help,h", "show this help")("spec", po::value(&spec), "sweep spec (YAML)")(
      "out", po::value(&o.out), "results database (SQLite; created, or resumed when it exists)")(
      "jobs", po::value(&o.jobs), "threads (default: the machine's cores)")(
      "shard", po::value(&shard), "I/N: run only the points at positions p with p % N == I (I = 0..N-1)")(
      "mpi", "share the points among the MPI ranks (mpirun -np N tessera sweep ... --mpi); rank 0 writes")(
      "limit", po::value(&o.limit), "run at most N of the missing points")(
      "append", "add this spec's points to a database holding another spec's")(
      "quiet,q", "no progress output");
  po::positional_options_description pos;
  pos.add("spec", 1);
  auto vm = parse_args(desc, pos, args, "sweep");
  if (vm.count("help")) {
    out << kSweepUsage << desc;
    return 0;
  }
  if (spec.empty()) throw InputError("tessera sweep: give the spec file (tessera sweep SPEC.yaml --out results.db)");
  if (o.out.empty()) throw InputError("tessera sweep: --out results.db is required");
  if (vm.count("jobs") && (o.jobs < 1 || o.jobs > 1024))
    throw InputError(fmt::format("--jobs: {} is out of range; accepted: 1..1024", o.jobs));
  if (vm.count("limit") && o.limit < 0) throw InputError(fmt::format("--limit: {} is negative", o.limit));
  if (!shard.empty()) {
    const size_t slash = shard.find('/');
    char* e1 = nullptr;
    char* e2 = nullptr;
    const std::string a = shard.substr(0, slash), b = slash == std::string::npos ? "" : shard.substr(slash + 1);
    const long i = std::strtol(a.c_str(), &e1, 10), n = std::strtol(b.c_str(), &e2, 10);
    if (slash == std::string::npos || a.empty() || b.empty() || *e1 || *e2 || n < 1 || i < 0 || i >= n || n > 1000000)
      throw InputError(fmt::format("--shard: '{}'; expected I/N with 0 <= I < N (e.g. 0/4)", shard));
    o.shard_index = static_cast<int>(i);
    o.shard_count = static_cast<int>(n);
  }
  o.mpi = vm.count("mpi") > 0;
  o.append = vm.count("append") > 0;
  o.quiet = vm.count("quiet") > 0;
  return run_sweep(spec, o, out, err);
}

}  // namespace tessera
