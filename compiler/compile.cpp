#include "compiler/compile.h"

#include <fmt/format.h>

#include <algorithm>

#include "compiler/mapper.h"
#include "core/error.h"

namespace tessera {

Program compile(const Graph& g, const Hardware& hw) {
  Program p;
  p.target = hw.compute().impl();
  p.hardware = hw.name;
  p.workload = g.spec.empty() ? g.name : g.spec;
  p.kernels.reserve(g.ops.size());
  const std::unique_ptr<Mapper> mapper = make_mapper(hw.compute());
  for (size_t i = 0; i < g.ops.size(); ++i) {
    p.kernels.push_back(mapper->lower(g, static_cast<int>(i), hw));
    Kernel& k = p.kernels.back();
    // Every kernel after the first is queued behind its predecessor in the same
    // stream (or graph): targets may start it sooner than an isolated launch.
    if (i > 0) k.info.queued = 1;
    // One kernel per op, so the producer ops' indices are the producer kernels'.
    for (int d : g.ops[i].deps) {
      if (d < 0 || static_cast<size_t>(d) >= i)
        throw InputError(fmt::format("{}: op {} '{}' depends on op {}, which is not an earlier op",
                                     p.workload, i, g.ops[i].name, d));
      k.deps.push_back(d);
    }
    std::sort(k.deps.begin(), k.deps.end());
    k.deps.erase(std::unique(k.deps.begin(), k.deps.end()), k.deps.end());
  }
  return p;
}

}  // namespace tessera
