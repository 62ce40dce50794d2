// Parameters of the multi-device transformer workloads: declaration, parsing,
// and their record in graph.info (see parallel.h for the contract).
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "core/error.h"
#include "workloads/builder.h"
#include "workloads/models/parallel.h"
#include "workloads/training/step.h"

namespace tessera {
namespace {
using WlParams = std::map<std::string, std::string>;

}  // namespace

std::vector<WorkloadParam> parallel_params() {
  return {{"tp", "1", "tensor-parallel ranks (Megatron-LM column/row splits)"},
          {"pp", "1", "pipeline stages"},
          {"dp", "1", "data-parallel replicas"},
          {"ep", "1", "expert-parallel ranks (moe; carved out of dp)"},
          {"sequence_parallel", "0",
           "1: tensor-parallel allreduces become reducescatter + allgather and "
           "norms/residuals are sharded over the sequence",
           ParamType::boolean},
          {"schedule",
           "1f1b",
           "pipeline schedule: gpipe, 1f1b (PipeDream-Flush) or interleaved (Megatron-LM "
           "virtual stages)",
           ParamType::choice,
           {"gpipe", "1f1b", "interleaved"}},
          {"virtual_stages", "1", "layer chunks per device with schedule=interleaved"},
          {"zero",
           "0",
           "ZeRO stage of the data-parallel replicas: 0 (DDP), 1 optimizer state, 2 + gradients, "
           "3 + parameters sharded",
           ParamType::choice,
           {"0", "1", "2", "3"}},
          {"microbatch", "auto", "sequences per microbatch (auto: batch)", ParamType::integer, {"auto"}},
          {"global_batch",
           "auto",
           "sequences per iteration over all replicas (auto: microbatch x dp)",
           ParamType::integer,
           {"auto"}},
          {"recompute", "none",
           "activation recomputation: none, selective (attention core: Megatron-LM), full (each "
           "layer's forward again in the backward) or op (torchtitan's per-op selective checkpointing: "
           "every layer op but the SDPA and every other matmul recomputed)",
           ParamType::choice, k_recompute_names},
          {"bucket",
           "auto",
           "DDP gradient bucket size. auto: with ddp=megatron Megatron-core's max(40M, 1M x dp) "
           "gradient elements, with ddp=torch PyTorch's bucket_cap_mb default, 25 MiB; or a size: "
           "MB (10^6 bytes) with ddp=megatron, MiB with ddp=torch (after a first bucket of 1 "
           "MiB). With ddp=megatron only the first pipeline stage's first model chunk is "
           "bucketed; every other chunk's gradients are one bucket",
           ParamType::integer,
           {"auto"}},
          {"grad_reduce",
           "auto",
           "type of the data-parallel gradient reduction and of the kept gradients: auto (the "
           "gradients' own: the model's dtype, fp32 with amp) or fp32 (Megatron-LM's "
           "accumulate_allreduce_grads_in_fp32, on with its --bf16)",
           ParamType::choice,
           {"auto", "fp32"}},
          {"grad_accum_fusion", "1",
           "grad_scaler=megatron: 1 (Megatron-LM's gradient_accumulation_fusion: the "
           "weight-gradient GEMM adds into the main-grad buffer) or 0 (main_grad.add_(grad) "
           "after each microbatch's backward, a kernel per parameter, as Megatron-LM did "
           "before 2022)",
           ParamType::boolean},
          {"overlap_grad_reduce", "1",
           "1: the data-parallel gradient buckets are reduced during the last microbatch's "
           "backward (PyTorch DDP, Megatron-LM --overlap-grad-reduce); 0: after it, before the "
           "optimizer step, each chunk's gradient buffer scaled by 1/dp and all-reduced at once "
           "(Megatron-LM without --overlap-grad-reduce, and its --DDP-impl local)",
           ParamType::boolean},
          {"p2p_overlap", "1",
           "1: pipeline sends and receives overlap compute (Megatron-LM --overlap-p2p-comm); 0: "
           "devices exchange between steps and wait for each exchange (Megatron-LM's default: "
           "batch_isend_irecv, wait, torch.cuda.synchronize)",
           ParamType::boolean},
          {"p2p_scatter_gather", "0",
           "1: each tensor-parallel rank sends 1/tp of a pipeline transfer and the receiver "
           "all-gathers it over tp (Megatron-LM's scatter/gather optimisation, on in its 2021 "
           "releases; not with sequence_parallel, whose transfers are already 1/tp)",
           ParamType::boolean},
          {"ddp",
           "megatron",
           "how the data-parallel stack keeps and reduces gradients: megatron (Megatron-LM's "
           "DistributedDataParallel: contiguous main-grad buffers that the weight-gradient GEMMs "
           "add into) or torch (torch.nn.parallel.DistributedDataParallel with no_sync() on all "
           "but the last microbatch: each parameter's .grad, into which AccumulateGrad adds every "
           "later microbatch's gradient (a kernel per parameter); in the last microbatch's "
           "backward each gradient copied into its bucket divided by dp, and the reduced buckets "
           "copied back into .grad after it; Megatron-LM --DDP-impl torch) or fsdp (PyTorch's "
           "FSDP2, fully_shard on every layer and on the root module, with zero=3: each layer's "
           "parameters all-gathered before its forward and its backward and copied out of the "
           "gathered buffer, its gradients copied into a reduce-scatter input and reduce-scattered "
           "once its backward is done, every microbatch)",
           ParamType::choice,
           {"megatron", "torch", "fsdp"}},
          {"grad_scaler",
           "megatron",
           "whose loss scaling amp=fp16 runs, and over which ranks found_inf is all-"
           "reduced: megatron (Megatron-LM's MixedPrecisionOptimizer: tp and pp, + dp with "
           "zero >= 1, + the expert ranks with ep), fsdp (ShardedGradScaler: dp) or torch "
           "(torch.amp.GradScaler: none; dp with zero=0 only)",
           ParamType::choice,
           {"megatron", "fsdp", "torch"}}};
}

ParallelConfig parse_parallel(const WlParams& p, int64_t batch) {
  ParallelConfig c;
  c.tp = wl_int(p, "tp");
  c.pp = wl_int(p, "pp");
  c.dp = wl_int(p, "dp");
  c.ep = wl_int(p, "ep");
  c.sequence_parallel = wl_bool(p, "sequence_parallel");
  const std::string& s = wl_choice(p, "schedule", {"gpipe", "1f1b", "interleaved"});
  c.schedule = s == "gpipe" ? PipeSchedule::gpipe : s == "1f1b" ? PipeSchedule::one_f_one_b : PipeSchedule::interleaved;
  c.virtual_stages = wl_int(p, "virtual_stages");
  c.zero = std::stoi(wl_choice(p, "zero", {"0", "1", "2", "3"}));
  c.microbatch = wl_int_or(p, "microbatch", batch);
  c.global_batch = wl_int_or(p, "global_batch", c.microbatch * c.dp);
  const std::string& r = wl_choice(p, "recompute", k_recompute_names);
  c.recompute = static_cast<Recompute>(std::find(k_recompute_names.begin(), k_recompute_names.end(), r) -
                                       k_recompute_names.begin());
  c.bucket_mb = wl_int_or(p, "bucket", 0);
  c.grad_reduce_fp32 = wl_choice(p, "grad_reduce", {"auto", "fp32"}) == "fp32";
  c.grad_accum_fusion = wl_bool(p, "grad_accum_fusion");
  c.overlap_grad_reduce = wl_bool(p, "overlap_grad_reduce");
  c.p2p_overlap = wl_bool(p, "p2p_overlap");
  c.p2p_scatter_gather = wl_bool(p, "p2p_scatter_gather");
  const std::string& ddp = wl_choice(p, "ddp", {"megatron", "torch", "fsdp"});
  c.torch_ddp = ddp == "torch";
  c.fsdp = ddp == "fsdp";
  const std::string& gs = wl_choice(p, "grad_scaler", {"megatron", "fsdp", "torch"});
  c.scaler = gs == "megatron" ? ScalerStack::megatron : gs == "fsdp" ? ScalerStack::fsdp : ScalerStack::torch;
  c.active = c.tp != 1 || c.pp != 1 || c.dp != 1 || c.ep != 1 || c.sequence_parallel || s != "1f1b" ||
             c.virtual_stages != 1 || c.zero != 0 || p.at("microbatch") != "auto" ||
             p.at("global_batch") != "auto" || r != "none" || c.bucket_mb != 0 || c.grad_reduce_fp32 ||
             !c.grad_accum_fusion || !c.overlap_grad_reduce || !c.p2p_overlap || c.p2p_scatter_gather ||
             c.torch_ddp || c.fsdp || c.scaler != ScalerStack::megatron;
  if (c.devices() > (int64_t{1} << 24))
    throw InputError(fmt::format("workload parameters tp x pp x dp = {} devices; accepted up to 2^24", c.devices()));
  if (c.virtual_stages > 1 && c.schedule != PipeSchedule::interleaved)
    throw InputError(fmt::format("workload parameter 'virtual_stages': {} needs schedule=interleaved",
                                 c.virtual_stages));
  if (c.global_batch % (c.microbatch * c.dp) != 0)
    throw InputError(fmt::format("workload parameter 'global_batch': {} is not a multiple of microbatch x dp = "
                                 "{} x {}", c.global_batch, c.microbatch, c.dp));
  if (c.schedule == PipeSchedule::interleaved && (c.pp < 2 || c.microbatches() % c.pp != 0))
    throw InputError(fmt::format("workload parameter 'schedule': interleaved needs pp >= 2 and microbatches "
                                 "(global_batch / (microbatch x dp) = {}) a multiple of pp = {}",
                                 c.microbatches(), c.pp));
  if (!c.overlap_grad_reduce && c.zero >= 2)
    throw InputError(
        fmt::format("workload parameter 'overlap_grad_reduce': 0 needs zero 0 or 1 (zero = {} "
                    "reduce-scatters each microbatch's gradients as the backward produces them)",
                    c.zero));
  if (c.p2p_scatter_gather && c.sequence_parallel)
    throw InputError(
        "workload parameter 'p2p_scatter_gather': 1 needs sequence_parallel=0 (with sequence "
        "parallelism each rank's pipeline transfer is already its 1/tp of the sequence)");
  if (c.torch_ddp || c.fsdp) {
    // What torch.nn.parallel.DistributedDataParallel and FSDP do not do: each
    // refusal names the Megatron-LM (or other) feature the combination needs.
    // FSDP shards parameters, gradients and optimizer state (FULL_SHARD), reduces
    // each unit's gradients every microbatch, and has no expert-parallel buffers.
    const char* why =
        c.fsdp && c.zero != 3               ? "a zero other than 3 (FSDP's full sharding is zero=3)"
        : c.torch_ddp && c.grad_reduce_fp32 ? "grad_reduce=fp32 (DDP reduces each gradient in its own type; "
                                              "fp32 reduction is Megatron-LM's main-grad buffer)"
        : !c.grad_accum_fusion       ? "grad_accum_fusion=0 (main_grad.add_ is Megatron-LM's DDP hook; "
                                       "torch's .grad accumulation is AccumulateGrad)"
        : !c.overlap_grad_reduce     ? "overlap_grad_reduce=0 (DDP's reducer always reduces its buckets "
                                       "during the backward)"
        : c.torch_ddp && c.zero >= 2 ? "zero=2|3 (gradient sharding is FSDP's or DeepSpeed's, not DDP's; "
                                       "ddp=fsdp with zero=3 is FSDP)"
        : c.ep > 1                   ? "ep > 1 (the expert data-parallel buffers are Megatron-LM's)"
        : c.fsdp && c.bucket_mb > 0  ? "a bucket size (FSDP reduces each layer's gradients at once)"
                                     : nullptr;
    if (why)
      throw InputError(fmt::format(
          "workload parameter 'ddp': {} does not run with {}; accepted with it: {}",
          c.fsdp ? "fsdp" : "torch", why,
          c.fsdp ? "zero=3, grad_accum_fusion=1, ep=1, bucket=auto (grad_reduce=fp32: FSDP's "
                   "MixedPrecisionPolicy "
                   "reduce_dtype=float32)"
                 : "grad_reduce=auto, grad_accum_fusion=1, overlap_grad_reduce=1, zero 0 or 1, ep=1, or "
                   "ddp=megatron"));
  }
  if (c.dp % c.ep != 0)
    throw InputError(fmt::format("workload parameter 'ep': {} must divide dp = {} (expert-parallel ranks are "
                                 "carved out of the data-parallel replicas)", c.ep, c.dp));
  return c;
}

void set_parallel_info(Graph& g, const ParallelConfig& c) {
  g.info["parallel"] = 1;
  g.info["tp"] = static_cast<double>(c.tp);
  g.info["pp"] = static_cast<double>(c.pp);
  g.info["dp"] = static_cast<double>(c.dp);
  g.info["ep"] = static_cast<double>(c.ep);
  g.info["sequence_parallel"] = c.sequence_parallel ? 1 : 0;
  g.info["schedule"] = static_cast<double>(static_cast<int>(c.schedule));
  g.info["virtual_stages"] = static_cast<double>(c.virtual_stages);
  g.info["zero"] = c.zero;
  g.info["microbatch"] = static_cast<double>(c.microbatch);
  g.info["global_batch"] = static_cast<double>(c.global_batch);
  g.info["microbatches"] = static_cast<double>(c.microbatches());
  g.info["recompute"] = static_cast<double>(static_cast<int>(c.recompute));
  g.info["bucket_mb"] = static_cast<double>(c.bucket_mb);
  if (c.grad_reduce_fp32) g.info["grad_reduce_fp32"] = 1;
  if (!c.grad_accum_fusion) g.info["grad_accum_unfused"] = 1;
  if (!c.overlap_grad_reduce) g.info["grad_reduce_after"] = 1;
  if (!c.p2p_overlap) g.info["p2p_blocking"] = 1;
  if (c.p2p_scatter_gather) g.info["p2p_scatter_gather"] = 1;
  if (c.torch_ddp) g.info["torch_ddp"] = 1;
  if (c.fsdp) g.info["fsdp"] = 1;
  if (c.scaler != ScalerStack::megatron) g.info["scaler_stack"] = static_cast<double>(static_cast<int>(c.scaler));
}

void check_training_stack(const ParallelConfig& c, const TrainingOptions* training) {
  if (training && training->clip_grad_norm)
    throw InputError(
        "parameter 'clip_grad_norm': not modelled for a parallel workload (Megatron-LM's optimizer "
        "computes the gradient norm itself and scales by clip_grad only when the norm exceeds it; "
        "FSDP's clip_grad_norm_ all-reduces the shards' norms); accepted here: clip_grad_norm=0");
  // The scaler stack: `fp16`, an amp=fp16 training step.
  const bool fp16 = training && training->amp == Amp::fp16;
  const char* name = c.scaler == ScalerStack::fsdp ? "fsdp" : "torch";
  if (c.scaler == ScalerStack::megatron) return;
  if (!fp16)
    throw InputError(
        fmt::format("parameter 'grad_scaler': {} applies to an amp=fp16 training step only "
                    "(train=1,amp=fp16)",
                    name));
  const bool model_parallel = c.tp > 1 || c.pp > 1 || c.ep > 1;
  if (c.scaler == ScalerStack::torch && (model_parallel || (c.zero >= 1 && c.dp > 1)))
    throw InputError(fmt::format(
        "parameter 'grad_scaler': torch (torch.amp.GradScaler) checks only the gradients a rank holds and "
        "combines nothing across ranks, but with tp, pp, ep or zero each rank holds part of them and the "
        "ranks would step on different found_inf flags; accepted here: megatron{}",
        model_parallel ? "" : ", fsdp"));
  if (c.scaler == ScalerStack::fsdp && model_parallel)
    throw InputError(
        "parameter 'grad_scaler': fsdp (ShardedGradScaler) all-reduces found_inf over its "
        "data-parallel process group only, so tensor-, pipeline- and expert-parallel ranks would step "
        "on different flags; accepted with tp, pp or ep > 1: megatron");
  if (c.scaler == ScalerStack::fsdp && training->optimizer == Optimizer::adamw_fused)
    throw InputError(
        "parameter 'grad_scaler': fsdp with optimizer=adamw_fused is not modelled: ShardedGradScaler "
        "all-reduces found_inf in unscale_(), which scaler.step() skips for an optimizer that unscales "
        "inside its kernel (fused AdamW), so without an explicit unscale_() the ranks would not agree; "
        "accepted with fsdp: optimizer=adamw, sgd, sgd_momentum (or grad_scaler=megatron)");
}

bool is_parallel_graph(const Graph& g) { return info_or(g, "parallel", 0) == 1; }

double op_param_elems(const Op& op) {
  double n = 0;
  for (int64_t e : training::param_tensors(op)) n += static_cast<double>(e);
  return n;
}

ParallelConfig parallel_config_of(const Graph& g) {
  ParallelConfig c;
  c.tp = static_cast<int64_t>(info_or(g, "tp", 1));
  c.pp = static_cast<int64_t>(info_or(g, "pp", 1));
  c.dp = static_cast<int64_t>(info_or(g, "dp", 1));
  c.ep = static_cast<int64_t>(info_or(g, "ep", 1));
  c.sequence_parallel = info_or(g, "sequence_parallel", 0) != 0;
  c.schedule = static_cast<PipeSchedule>(static_cast<int>(info_or(g, "schedule", 1)));
  c.virtual_stages = static_cast<int64_t>(info_or(g, "virtual_stages", 1));
  c.zero = static_cast<int>(info_or(g, "zero", 0));
  c.microbatch = static_cast<int64_t>(info_or(g, "microbatch", 1));
  c.global_batch = static_cast<int64_t>(info_or(g, "global_batch", 1));
  c.recompute = static_cast<Recompute>(static_cast<int>(info_or(g, "recompute", 0)));
  c.bucket_mb = static_cast<int64_t>(info_or(g, "bucket_mb", 0));
  c.grad_reduce_fp32 = info_or(g, "grad_reduce_fp32", 0) != 0;
  c.grad_accum_fusion = info_or(g, "grad_accum_unfused", 0) == 0;
  c.overlap_grad_reduce = info_or(g, "grad_reduce_after", 0) == 0;
  c.p2p_overlap = info_or(g, "p2p_blocking", 0) == 0;
  c.p2p_scatter_gather = info_or(g, "p2p_scatter_gather", 0) != 0;
  c.torch_ddp = info_or(g, "torch_ddp", 0) != 0;
  c.fsdp = info_or(g, "fsdp", 0) != 0;
  c.scaler = static_cast<ScalerStack>(static_cast<int>(info_or(g, "scaler_stack", 0)));
  c.active = true;
  return c;
}

double ddp_bucket_bytes(const ParallelConfig& c, int64_t chunk, double grad_elem_bytes, int bucket_no) {
  // ddp=torch: PyTorch's bucket_cap_mb is in MiB (torch/nn/parallel/distributed.py:
  // bucket_bytes_cap = int(bucket_cap_mb * 1024 * 1024)), 25 by default, and from the
  // second iteration on (the reducer's rebuild_buckets, in the order the gradients
  // became ready) the first bucket, holding the first gradients the backward
  // produces, is capped at first_bucket_bytes_cap_ = dist._DEFAULT_FIRST_BUCKET_BYTES
  // = 1 MiB (torch/csrc/distributed/c10d/reducer.cpp; DDP_SET_LAST_BUCKET_CAP=1
  // would make the small bucket the last instead).
  if (c.torch_ddp)
    return bucket_no == 0 ? 1048576.0 : static_cast<double>(c.bucket_mb > 0 ? c.bucket_mb : 25) * 1048576.0;
  // ddp=megatron: Megatron-core's DistributedDataParallel (distributed_data_parallel.py)
  // takes bucket_size = max(40000000, 1000000 x dp) gradient elements unless given
  // (--ddp-bucket-size), and turns bucketing off (bucket_size = None: the chunk's
  // whole buffer is one bucket, reduced once its last gradient is ready) on pipeline
  // stages after the first and, through disable_bucketing, for model chunks after
  // the first (training.py get_model): only chunk 0 (stage 0, model chunk 0) has
  // buckets.
  if (chunk > 0) return std::numeric_limits<double>::infinity();
  if (c.bucket_mb > 0) return static_cast<double>(c.bucket_mb) * 1e6;
  return std::max(40e6, 1e6 * static_cast<double>(c.dp)) * grad_elem_bytes;
}

}  // namespace tessera
