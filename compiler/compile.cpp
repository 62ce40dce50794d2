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
  p.hw_digest = hw.digest;
  p.workload = g.spec.empty() ? g.name : g.spec;
  p.kernels.reserve(g.ops.size());
  // amp=bf16/fp16 is torch.autocast on a CUDA device (its casts, the cuBLAS/cuDNN
  // products, GradScaler): a GPU target only. Every GPU preset has fp16 and (but
  // V100, which PyTorch runs at the fp32 rate) bf16 tensor cores.
  if (auto it = g.info.find("amp"); it != g.info.end() && it->second != 0 && hw.compute().impl() != "tensorcore")
    throw InputError(fmt::format("workload '{}': amp runs torch.autocast on a CUDA GPU; hardware '{}' has a '{}' "
                                 "compute unit (accepted there: train=1 with the model's dtype, amp=none)",
                                 p.workload, hw.name, hw.compute().impl()));
  const std::unique_ptr<Mapper> mapper = make_mapper(hw.compute());
  const auto hidden = g.info.find("host_hidden");
  const bool host_hidden = hidden != g.info.end() && hidden->second != 0;
  const auto graph_it = g.info.find("graph");
  const bool graph = graph_it != g.info.end() && graph_it->second != 0;
  const auto idle_it = g.info.find("loop_idle_s");
  for (size_t i = 0; i < g.ops.size(); ++i) {
    p.kernels.push_back(mapper->lower(g, static_cast<int>(i), hw));
    Kernel& k = p.kernels.back();
    // Every kernel after the first is queued behind its predecessor in the same
    // stream (or graph): targets may start it sooner than an isolated launch.
    if (i > 0) k.info.queued = 1;
    // A workload replayed as a CUDA graph (or issued while the GPU is still busy
    // with earlier work) pays no host time per kernel (models/compute/host.h).
    if (host_hidden) k.info.host_hidden = 1;
    // A CUDA-graph replay also starts a multi-kernel op's further kernels without
    // the host (models/tensorcore/tensorcore.cpp, kernel_overhead_s).
    if (graph) k.info.graph = 1;
    // A kernel timed in a host loop (a host clock around the op and a synchronize):
    // the device idles this long between runs (models/tensorcore/clock.h).
    if (idle_it != g.info.end()) k.info.loop_idle = idle_it->second;
    // A Python loop of per-tensor aten calls (Megatron-LM's bf16 parameter copies)
    // is one op of several host calls; an op whose result the host reads
    // (.item()) makes the host wait for its kernel (models/compute/host.h).
    if (const int64_t calls = g.ops[i].get("host_calls", 0); calls > 1) k.info.host_calls = calls;
    if (g.ops[i].get("host_sync", 0) != 0) k.info.host_sync = 1;
    // A kernel a library launches from its own loop (cuDNN's RNN time steps) costs
    // the host one launch call, not an aten op (models/compute/host.h).
    if (g.ops[i].get("lib_launch", 0) != 0) k.info.lib_launch = 1;
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

void check_program_hardware(const Program& p, const Hardware& hw, std::string_view source) {
  const std::string recompile =
      fmt::format("compile the workload for this hardware ('tessera compile --hw {} --workload {}')", hw.name,
                  p.workload.empty() ? "..." : p.workload);
  if (p.target.empty())
    throw InputError(fmt::format("{}: the program names no target (.program target=...); {}", source, recompile));
  if (p.target != hw.compute().impl())
    throw InputError(fmt::format("{}: the program was compiled for a '{}' target (hardware '{}'), but {} has a "
                                 "'{}' compute component; {}", source, p.target, p.hardware, hw.name,
                                 hw.compute().impl(), recompile));
  if (!p.hardware.empty() && p.hardware != hw.name)
    throw InputError(fmt::format("{}: the program was compiled for hardware '{}', not '{}'; {}", source,
                                 p.hardware, hw.name, recompile));
  if (!p.hw_digest.empty() && p.hw_digest != hw.digest)
    throw InputError(fmt::format("{}: the program was compiled for a different description of '{}' (digest {}, "
                                 "this one {}: a parameter or --set differs); {}", source, hw.name,
                                 p.hw_digest, hw.digest, recompile));
}

}  // namespace tessera
