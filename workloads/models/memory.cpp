// Memory micro-workloads, as PyTorch users write them:
//   gather        t.index_select(0, idx) on a bf16 table (an embedding lookup)
//   strided_read  x[::stride].sum() over an fp32 tensor x
//   read_repeat   x.sum() repeated on one fp32 tensor, nothing flushed in between
// Each is IR ops whose access-pattern attributes (embedding `order`, reduce
// `stride` and `reread`; workloads/ir.h) tell the mappers how the bytes are laid out.
#include <fmt/format.h>

#include <cmath>

#include "core/error.h"
#include "core/units.h"
#include "workloads/builder.h"
#include "workloads/builtin.h"

namespace tessera {
namespace {

// x.sum() to one value over many thread blocks is ATen's global reduction
// (aten/src/ATen/native/cuda/Reduce.cuh: config.should_global_reduce()): it zeroes
// the blocks' semaphores with a cudaMemsetAsync before the reduction kernel, so
// each sum timed alone is two launches; the last block to finish reduces the
// partial sums.
constexpr int64_t k_sum_launches = 2;

// A byte count given as an integer or a quantity ("4096", "64MiB", "1GB").
int64_t wl_size(const std::map<std::string, std::string>& p, const std::string& key) {
  const std::string& v = p.at(key);
  std::string why;
  const auto q = parse_quantity(v, Unit::bytes, &why);
  if (!q || !std::isfinite(*q) || *q < 1 || *q > 1099511627776.0 || std::floor(*q) != *q)
    throw InputError(fmt::format("workload parameter '{}': '{}' is not accepted; expected a whole number of bytes "
                                 "from 1 to 1TiB (e.g. 4096, 64MiB)", key, v));
  return static_cast<int64_t>(*q);
}

Graph build_gather(const std::map<std::string, std::string>& p) {
  const int64_t table = wl_size(p, "table_bytes"), row = wl_size(p, "row_bytes");
  const int64_t rows = wl_int(p, "rows");
  if (row % 2 != 0)
    throw InputError(fmt::format("workload parameter 'row_bytes': {} is not a whole number of bf16 elements (2 B)", row));
  if (table < row)
    throw InputError(fmt::format("workload parameter 'table_bytes': {} is smaller than row_bytes={}", table, row));
  Graph g;
  g.name = "gather";
  Op op;
  op.name = "index_select";
  op.kind = OpKind::embedding;
  op.dtype = op.out_dtype = DType::bf16;
  op.attrs = {{"tokens", rows}, {"dim", row / 2}, {"vocab", table / row},
              {"order", wl_choice(p, "pattern", {"random", "sequential"}) == "random" ? 2 : 1}};
  g.add(op);
  g.info["bytes_moved"] = 2.0 * static_cast<double>(rows) * static_cast<double>(row);
  return g;
}

Graph build_strided_read(const std::map<std::string, std::string>& p) {
  const int64_t bytes = wl_size(p, "bytes"), stride = wl_int(p, "stride");
  if (bytes % 4 != 0)
    throw InputError(fmt::format("workload parameter 'bytes': {} is not a whole number of fp32 elements (4 B)", bytes));
  // x holds bytes/4 floats; the view x[::stride] has ceil(bytes/4 / stride) of them.
  const int64_t elems = (bytes / 4 + stride - 1) / stride;
  Graph g;
  g.name = "strided_read";
  Op op;
  op.name = "sum";
  op.kind = OpKind::reduce;
  op.dtype = op.out_dtype = DType::fp32;
  op.attrs = {{"rows", elems}, {"cols", 1}, {"stride", stride}, {"launches", k_sum_launches}};
  g.add(op);
  g.info["elems"] = static_cast<double>(elems);
  return g;
}

Graph build_read_repeat(const std::map<std::string, std::string>& p) {
  const int64_t ws = wl_size(p, "working_set"), repeats = wl_int(p, "repeats");
  if (ws % 4 != 0)
    throw InputError(fmt::format("workload parameter 'working_set': {} is not a whole number of fp32 elements (4 B)", ws));
  if (repeats > 100000)
    throw InputError(fmt::format("workload parameter 'repeats': {} is more than the accepted 100000", repeats));
  Graph g;
  g.name = "read_repeat";
  for (int64_t i = 0; i < repeats; ++i) {
    Op op;
    op.name = fmt::format("sum{}", i);
    op.kind = OpKind::reduce;
    op.dtype = op.out_dtype = DType::fp32;
    // In the CUDA graph the l2sweep records replay, the memset is a graph node that
    // costs far less than an eager launch; one launch per sum is charged.
    op.attrs = {{"rows", ws / 4}, {"cols", 1}};
    if (i > 0) op.attrs["reread"] = 1;   // the same tensor, still where the last sum left it
    g.add(op);
  }
  g.info["working_set_bytes"] = static_cast<double>(ws);
  // The l2sweep records replay the sums as one CUDA graph: no host time per sum
  // (models/compute/host.h).
  g.info["host_hidden"] = 1;
  g.info["graph"] = 1;
  return g;
}

}  // namespace

void add_memory_workloads(std::vector<WorkloadInfo>& out) {
  out.push_back({"gather", "t.index_select(0, idx): rows of a bf16 table picked by int64 indices",
                 {{"table_bytes", "", "bytes of the table", ParamType::quantity, {}, 1, Unit::bytes},
                  {"row_bytes", "", "bytes of one row (even: bf16)", ParamType::quantity, {}, 1, Unit::bytes},
                  {"rows", "", "rows gathered (indices)"},
                  {"pattern", "random", "indices: random (uniform over the table) or sequential (consecutive rows)",
                   ParamType::choice, {"random", "sequential"}}},
                 build_gather, true});
  out.push_back({"strided_read", "x[::stride].sum() over an fp32 tensor x of `bytes`",
                 {{"bytes", "", "bytes of x (fp32)", ParamType::quantity, {}, 1, Unit::bytes},
                  {"stride", "1", "elements between consecutive summed elements"}},
                 build_strided_read, true});
  out.push_back({"read_repeat", "x.sum() repeated on one fp32 tensor with no cache flush in between",
                 {{"working_set", "", "bytes of x (fp32)", ParamType::quantity, {}, 1, Unit::bytes},
                  {"repeats", "20", "sums (the first reads x cold)"}},
                 build_read_repeat, true});
}

}  // namespace tessera
