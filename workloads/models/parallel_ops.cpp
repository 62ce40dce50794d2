// Building blocks of the parallel graph (parallel_ops.h).
#include "workloads/models/parallel_ops.h"

#include <algorithm>

namespace tessera::parallel_ops {

// Devices are numbered as Megatron-LM does (initialize_model_parallel): the tp
// ranks of a group are consecutive, dp (and ep, carved out of dp) groups stride
// over them, pp groups over both. `stride` tells the interconnect which links a
// group spans.
int64_t group_stride(CommGroup g, int64_t tp, int64_t dp) {
  switch (g) {
    case CommGroup::tp:
      return 1;
    case CommGroup::dp:
    case CommGroup::ep:
      return tp;
    case CommGroup::pp:
      return tp * dp;
    case CommGroup::all:
      return 1;
  }
  return 1;
}

Op collective(const Layout& lay, OpKind kind, const std::string& name, DType t, int64_t bytes, int64_t ranks,
              CommGroup group) {
  Op op;
  op.kind = kind;
  op.name = name;
  op.dtype = op.out_dtype = t;
  op.attrs = {{"bytes", std::max<int64_t>(1, bytes)},
              {"ranks", ranks},
              {"group", static_cast<int64_t>(group)},
              {"stride", group_stride(group, lay.tp, lay.dp)}};
  return op;
}

// A memory-bound kernel over gradient buffers, one launch per tensor: reads
// `reads` and writes one tensor of `elems` elements (in `in`, written as `out`),
// one operation per element (an add, a scale or a copy).
Op gradient_kernel(std::string name, DType in, DType out, double elems, int64_t reads, int64_t launches) {
  Op k;
  k.name = std::move(name);
  k.kind = OpKind::optimizer;
  k.dtype = in;
  k.out_dtype = out;
  k.attrs = {{"elems", static_cast<int64_t>(elems)},
             {"reads", reads},
             {"writes", 1},
             {"flops", 1},
             {"launches", launches}};
  return k;
}

// GradScaler's found_inf combined across the ranks whose gradients differ
// (amp=fp16; ScalerStack in parallel.h): 4-byte fp32 all-reduces, once per device
// (in its first chunk), right after the unscale.
//   megatron: megatron/core/optimizer/optimizer.py, MixedPrecisionOptimizer.
//     _unscale_main_grads_and_check_for_nan: all_reduce(found_inf, op=MAX,
//     group=get_grad_stats_parallel_group()); megatron/core/optimizer/__init__.py
//     makes that group the model-parallel group (tp x pp) for
//     Float16OptimizerWithFloat16Params and the intra-distributed-optimizer group
//     (tp x pp x dp) for the DistributedOptimizer (zero >= 1 here). A moe's expert
//     parameters have an optimizer of their own (a ChainedOptimizer member) whose
//     model-parallel group is the expert tensor-model-pipeline group (tp x ep x
//     pp, get_expert_tensor_model_pipeline_parallel_group), with the distributed
//     optimizer the expert data-parallel group (dp / ep) too.
//   fsdp: torch/distributed/fsdp/sharded_grad_scaler.py, ShardedGradScaler.unscale_:
//     dist.all_reduce(found_inf, async_op=True, group=self.process_group) (SUM over
//     the data-parallel process group), then work.wait().
// A group spanning several dimensions (tp x pp) is one NCCL communicator in these
// stacks; the collective model plans groups of one stride, so here it is one
// all-reduce per dimension, each latency-bound like the real one.
// The 4-byte fp32 all-reduces of a gradient statistic (found_inf, the gradient
// norm's square) over Megatron-LM's grad-stats group (MegatronOptimizer.
// get_grad_stats_parallel_group: the model-parallel group, tp x pp; with the
// distributed optimizer (zero >= 1) every rank of the optimizer instance, dp too;
// the expert optimizer of a MoE model its own: tp x ep x pp, with zero the expert
// dp ranks): one NCCL communicator there, one all-reduce per dimension here (the
// collective model plans groups of one stride; docs/parallel.md).
std::vector<StatsReduce> grad_stats_reduces(const ParallelConfig& c, const std::string& prefix) {
  std::vector<StatsReduce> out;
  const auto add = [&](const std::string& what, CommGroup g, int64_t ranks, int64_t stride) {
    if (ranks > 1) out.push_back({prefix + what, g, ranks, stride});
  };
  const bool dist_opt = c.zero >= 1;
  add(".tp", CommGroup::tp, c.tp, group_stride(CommGroup::tp, c.tp, c.dp));
  add(".pp", CommGroup::pp, c.pp, group_stride(CommGroup::pp, c.tp, c.dp));
  if (dist_opt) add(".dp", CommGroup::dp, c.dp, group_stride(CommGroup::dp, c.tp, c.dp));
  if (c.ep > 1) {
    add("_expert.tp", CommGroup::tp, c.tp, group_stride(CommGroup::tp, c.tp, c.dp));
    add("_expert.ep", CommGroup::ep, c.ep, group_stride(CommGroup::ep, c.tp, c.dp));
    add("_expert.pp", CommGroup::pp, c.pp, group_stride(CommGroup::pp, c.tp, c.dp));
    // Expert data-parallel ranks: the dp ranks with the same expert shard,
    // ep x tp devices apart (Megatron-LM's rank order, group_stride).
    if (dist_opt) add("_expert.dp", CommGroup::dp, c.expert_dp(), c.expert_dp_stride());
  }
  return out;
}

// found_inf's all-reduces (amp=fp16) for the scaler stack that runs.
std::vector<StatsReduce> found_inf_reduces(const ParallelConfig& c) {
  switch (c.scaler) {
    case ScalerStack::megatron:
      return grad_stats_reduces(c, "grad_scaler.found_inf");
    case ScalerStack::fsdp:
      if (c.dp > 1)
        return {{"grad_scaler.found_inf.dp", CommGroup::dp, c.dp, group_stride(CommGroup::dp, c.tp, c.dp)}};
      return {};
    case ScalerStack::torch:
      return {};
  }
  return {};
}

}  // namespace tessera::parallel_ops
