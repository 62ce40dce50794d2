// Collective workloads with nccl-tests semantics: one collective op of `bytes`
// (nccl-tests' "size") over `ranks` ranks. Reports add algbw and busbw
// (sim/report.cpp, nccl-tests' definitions).
#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "core/error.h"
#include "core/units.h"
#include "workloads/builder.h"
#include "workloads/builtin.h"

namespace tessera {
namespace {

// Index order of models/interconnect/collective.h (collective_algorithms(),
// collective_protocols()); the IR carries the index (workloads/ir.h).
const std::vector<std::string> k_algos = {"auto", "ring", "tree", "nvls", "direct", "halving_doubling",
                                          "hierarchical"};
const std::vector<std::string> k_protocols = {"auto", "ll", "ll128", "simple"};

int64_t index_of(const std::vector<std::string>& v, const std::string& s) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i] == s) return static_cast<int64_t>(i);
  return 0;
}

// A buffer size: a whole number of bytes up to 2^44 (16 TiB; wl_int stops at 2^31,
// which nccl-tests' largest sizes exceed), as an integer or a quantity ("1GiB").
int64_t wl_bytes(const std::map<std::string, std::string>& p, const std::string& key) {
  const std::string& v = p.at(key);
  const auto q = parse_quantity(v, Unit::bytes, nullptr);
  if (!q || !std::isfinite(*q) || *q < 1 || *q > 0x1p44 || std::floor(*q) != *q)
    throw InputError(fmt::format("workload parameter '{}': '{}' is not a byte count from 1 to 2^44 "
                                 "(e.g. 1048576, 64MiB, 1GiB)", key, v));
  return static_cast<int64_t>(*q);
}

template <OpKind K>
Graph build_collective(const std::map<std::string, std::string>& p) {
  Graph g;
  g.name = std::string(op_kind_name(K));
  Op op;
  op.name = g.name;
  op.kind = K;
  op.dtype = wl_dtype(p, "dtype");
  op.out_dtype = op.dtype;
  const int64_t ranks = wl_int(p, "ranks");
  if (K == OpKind::sendrecv && ranks != 2)
    throw InputError(fmt::format("workload parameter 'ranks': sendrecv is one send/receive pair, ranks=2 (got {})",
                                 ranks));
  op.attrs = {{"bytes", wl_bytes(p, "bytes")}, {"ranks", ranks}};
  if (const int64_t a = index_of(k_algos, wl_choice(p, "algo", k_algos)); a) op.attrs["algo"] = a;
  if (const int64_t pr = index_of(k_protocols, wl_choice(p, "protocol", k_protocols)); pr) op.attrs["protocol"] = pr;
  if (const int64_t s = wl_int(p, "stride"); s != 1) op.attrs["stride"] = s;
  g.add(op);
  g.info["collective_bytes"] = static_cast<double>(wl_bytes(p, "bytes"));
  g.info["collective_ranks"] = static_cast<double>(ranks);
  return g;
}

}  // namespace

void add_collective_workloads(std::vector<WorkloadInfo>& out) {
  const auto params = [](const char* ranks_default) {
    return std::vector<WorkloadParam>{
        {"bytes", "", "nccl-tests size: bytes per rank (all_gather: the gathered output)"},
        {"ranks", ranks_default, "ranks taking part (at most the system's devices)"},
        {"dtype", "fp32", "element format (nccl-tests -d, default float)", ParamType::dtype},
        {"algo", "auto", "algorithm: auto (NCCL-like choice) or one of them", ParamType::choice, k_algos},
        {"protocol", "auto", "NCCL protocol: auto, ll, ll128, simple", ParamType::choice, k_protocols},
        {"stride", "1", "devices between consecutive ranks (>= devices per node: one rank per node)"}};
  };
  out.push_back({"allreduce", "all-reduce (sum) of a buffer over ranks (nccl-tests all_reduce_perf)",
                 params("8"), build_collective<OpKind::allreduce>, true});
  out.push_back({"allgather", "all-gather (nccl-tests all_gather_perf)", params("8"),
                 build_collective<OpKind::allgather>, true});
  out.push_back({"reducescatter", "reduce-scatter (nccl-tests reduce_scatter_perf)", params("8"),
                 build_collective<OpKind::reducescatter>, true});
  out.push_back({"alltoall", "all-to-all (nccl-tests alltoall_perf)", params("8"),
                 build_collective<OpKind::alltoall>, true});
  out.push_back({"broadcast", "broadcast from rank 0 (nccl-tests broadcast_perf)", params("8"),
                 build_collective<OpKind::broadcast>, true});
  out.push_back({"reduce_coll", "reduce (sum) to rank 0 (nccl-tests reduce_perf; busbw = algbw); the IR's "
                 "`reduce` is a column sum, hence the name", params("8"), build_collective<OpKind::reduce_coll>, true});
  out.push_back({"sendrecv", "one send/receive between two ranks (nccl-tests sendrecv_perf)", params("2"),
                 build_collective<OpKind::sendrecv>, true});
}

}  // namespace tessera
