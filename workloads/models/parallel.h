#pragma once
// Multi-device transformer workloads: tensor (Megatron-LM), pipeline, data
// (DDP, ZeRO) and expert parallelism as parameters of the transformer built-ins.
//
// A parallel workload is one graph holding, for every pipeline chunk (a run of
// consecutive layers; a device holds `virtual_stages` chunks), the work of ONE
// device of that chunk for ONE microbatch: shapes are the tensor-parallel
// shards, and the collectives a device takes part in are ops of kind
// allreduce/allgather/reducescatter/alltoall/sendrecv with attrs bytes (nccl-tests'
// size per rank), ranks and group (CommGroup). Every op carries `stage` (its chunk)
// and `pass` (0 forward, 1 backward, 2 optimizer). Devices of one chunk that
// differ only by their tensor- or data-parallel rank do the same work at the same
// time, so the multi-device engine (sim/engines/parallel.h) simulates each chunk
// once, and chunks with identical ops once in all; the pipeline schedule, the
// microbatch count and the overlap of communication come from graph.info:
//   parallel=1, tp, pp, dp, ep, sequence_parallel, virtual_stages, zero, scaler_stack
//   (ScalerStack; absent: megatron), torch_ddp (ddp=torch), fsdp (ddp=fsdp),
//   schedule (0 gpipe, 1 1f1b, 2 interleaved), recompute (0 none, 1 selective,
//   2 full), microbatch, global_batch, microbatches (per pipeline), seq, dtype_bytes,
//   chunk<c>.params (parameter elements of one device's shard of chunk c),
//   device<d>.weights_bytes, .grads_bytes, .optimizer_bytes, .activations_bytes,
//   .kv_cache_bytes (memory footprint of a device at pipeline position d),
//   model_flops (per iteration, all devices, without recomputation).
//
// Collectives per layer and microbatch (Megatron-LM, Shoeybi et al. 2019 §3;
// sequence parallelism, Korthikanti et al. 2022 §4.2.2), bytes = tokens x d x
// dtype for each:
//   tp, sequence_parallel=0: forward 2 allreduce (after the attention output and
//       MLP down projections), backward 2 allreduce (the input gradients of the
//       QKV and MLP up projections).
//   tp, sequence_parallel=1: forward 2 allgather (before QKV and MLP up) + 2
//       reducescatter (after the row-parallel projections), backward the same.
//   vocabulary-parallel embedding: forward 1 allreduce (reducescatter with sp);
//       the LM head's input gradient: backward 1 allreduce (reducescatter).
//   dp (zero=0): DDP buckets of gradients (ddp_bucket_bytes), an allreduce each,
//       issued in the last microbatch's backward as the bucket fills (overlapped).
//   zero=1: the same buckets, reduce-scattered with ddp=megatron (Megatron-core's
//       distributed optimizer), the optimizer on 1/dp of the state, then an
//       allgather of the updated parameters. zero=2: reducescatter buckets in every
//       microbatch's backward, optimizer on 1/dp, allgather of the parameters.
//       zero=3: as 2, plus an allgather of each layer's parameters before its
//       forward and again before its backward (prefetched, overlapped).
//   pp: one sendrecv of the activations (forward) or their gradient (backward)
//       between consecutive chunks: microbatch x seq x d x dtype (/tp with sp).
//   ep (moe): the expert all-to-all dispatch and combine, forward and backward.
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "workloads/training.h"
#include "workloads/workloads.h"

namespace tessera {

enum class PipeSchedule { gpipe = 0, one_f_one_b = 1, interleaved = 2 };
enum class Recompute { none = 0, selective = 1, full = 2, op = 3 };
// The values of the recompute parameter, in Recompute's order.
inline const std::vector<std::string> k_recompute_names = {"none", "selective", "full", "op"};
// recompute=op, torchtitan's per-op selective activation checkpointing
// (torchtitan/models/llama3/infra/parallelize.py, _apply_ac_to_transformer_block
// with selective_ac_option "op"): each transformer layer is checkpointed, and the
// policy keeps the outputs of aten.mm (all but every second one of the layer's,
// counted in forward order: q, v, w1, w2 kept, k, o, w3 recomputed) and of the
// SDPA kernels; every other op of the layer is recomputed.
class OpSacPolicy {
 public:
  // Whether the policy keeps op's output; a layer's ops are given in forward
  // order (attr layer: the count of its parameter matmuls restarts with a layer).
  bool keeps(const Op& op);

 private:
  int64_t m_layer = -1, m_mm = 0;
};
// Whose fp16 loss scaling (amp=fp16) a parallel training step runs, and so which
// collectives combine GradScaler's found_inf across ranks (finish_parallel_graph):
//   megatron  Megatron-LM's MixedPrecisionOptimizer (the default): found_inf
//             all-reduced (MAX) over the grad-stats group: tensor and pipeline
//             ranks, with the distributed optimizer (zero >= 1) the data-parallel
//             ranks too, and for moe the expert optimizer's expert-parallel ranks.
//   fsdp      torch.distributed.fsdp's ShardedGradScaler: torch.amp.GradScaler's
//             kernels, found_inf all-reduced over its data-parallel process group.
//   torch     torch.amp.GradScaler as on one device: nothing combined (every rank
//             must hold whole gradients: dp with zero=0 only).
enum class ScalerStack { megatron = 0, fsdp = 1, torch = 2 };

struct ParallelConfig {
  int64_t tp = 1, pp = 1, dp = 1, ep = 1;
  bool sequence_parallel = false;
  PipeSchedule schedule = PipeSchedule::one_f_one_b;
  int64_t virtual_stages = 1;
  int zero = 0;
  int64_t microbatch = 1;     // sequences per microbatch (per data-parallel replica)
  int64_t global_batch = 1;   // sequences per iteration, all replicas
  Recompute recompute = Recompute::none;
  int64_t bucket_mb = 0;  // DDP bucket size (MB, ddp=torch MiB); 0: the stack's default (ddp_bucket_bytes)
  // Gradients reduced over dp (and kept) in fp32 whatever the model's type:
  // Megatron-LM's accumulate_allreduce_grads_in_fp32 (main_grad buffers), which
  // its --bf16 turns on. Default: the gradients' own type (the model's; fp32
  // under amp, whose parameters are fp32).
  bool grad_reduce_fp32 = false;
  // Megatron-LM's gradient_accumulation_fusion: the weight-gradient GEMM adds into
  // the main-grad buffer. Off (before 2022, or without apex/Transformer Engine),
  // each microbatch's weight gradients are added by a kernel per parameter
  // (main_grad.add_(grad) in its DDP hook).
  bool grad_accum_fusion = true;
  // The data-parallel gradient reduction overlaps the last microbatch's backward
  // (PyTorch DDP's buckets, Megatron-LM's --overlap-grad-reduce). Off, it runs
  // after the schedule, before the optimizer step: each chunk's whole gradient
  // buffer scaled by 1/dp and all-reduced (Megatron-LM without
  // --overlap-grad-reduce, and its LocalDDP, --DDP-impl local, of 2021).
  bool overlap_grad_reduce = true;
  // Pipeline transfers overlap compute: a send delays only the task that needs it
  // (Megatron-LM --overlap-p2p-comm). Off, the devices exchange between steps and
  // wait for each exchange (Megatron-LM's default: batch_isend_irecv, wait on every
  // request, then torch.cuda.synchronize(); megatron/core p2p_communication.py).
  bool p2p_overlap = true;
  // Megatron-LM's scatter/gather of pipeline transfers (2021; on unless
  // --no-scatter-gather-tensors-in-pipeline, off with sequence parallelism): each
  // tensor-parallel rank sends its 1/tp of the activation, and the receiver
  // all-gathers it over tp (p2p_communication.py: split_tensor_into_1d_equal_chunks,
  // gather_split_1d_tensor).
  bool p2p_scatter_gather = false;
  // The data-parallel stack keeps PyTorch's per-parameter .grad tensors
  // (torch.nn.parallel.DistributedDataParallel, gradient_as_bucket_view=False,
  // no_sync() on all but the last microbatch; Megatron-LM --DDP-impl torch)
  // instead of Megatron-LM's contiguous main-grad buffers: AccumulateGrad adds
  // each later microbatch's gradient into .grad; in the last microbatch's
  // backward the reducer copies each gradient into its bucket divided by dp; once
  // the buckets are reduced it copies them back into .grad.
  bool torch_ddp = false;
  // PyTorch's FSDP2 (torch.distributed.fsdp.fully_shard on every layer and on the
  // root module; needs zero=3): each unit's parameters all-gathered before its
  // forward and again before its backward (the root's kept from its forward),
  // copied out of the gathered buffer on the compute stream; each unit's gradients
  // copied into a reduce-scatter input and reduce-scattered once its backward is
  // done, every microbatch; the optimizer on the shards.
  bool fsdp = false;
  ScalerStack scaler = ScalerStack::megatron;
  bool active = false;        // any parallel parameter differs from its default

  int64_t devices() const { return tp * pp * dp; }
  int64_t chunks() const { return pp * virtual_stages; }
  int64_t microbatches() const { return global_batch / (microbatch * dp); }
  // The expert data-parallel group of a MoE (Megatron-LM
  // get_expert_data_parallel_group): the dp / ep ranks holding the same experts,
  // tp x ep devices apart.
  int64_t expert_dp() const { return std::max<int64_t>(1, dp / std::max<int64_t>(1, ep)); }
  int64_t expert_dp_stride() const { return tp * ep; }
};

// The parallel parameters every transformer built-in declares (after its own).
std::vector<WorkloadParam> parallel_params();
// Reads and checks them; `batch` is the workload's batch parameter (the default
// microbatch). Throws InputError naming the parameter.
ParallelConfig parse_parallel(const std::map<std::string, std::string>& p, int64_t batch);
// Stores the configuration in g.info (the keys above).
void set_parallel_info(Graph& g, const ParallelConfig& c);

// The configuration set_parallel_info stored in g.info.
ParallelConfig parallel_config_of(const Graph& g);
// What the training stack of `c` cannot run, as an InputError naming the parameter:
// the loss-scaling stack grad_scaler names (which ranks its found_inf combines
// over; an amp=fp16 step only) and clip_grad_norm (not on a parallel workload).
// training: null for inference.
void check_training_stack(const ParallelConfig& c, const TrainingOptions* training);

// The gradient bytes at which DDP bucket `bucket_no` of pipeline chunk `chunk` is
// sent (infinity: the chunk's gradients are one bucket), with gradient elements of
// `grad_elem_bytes`.
double ddp_bucket_bytes(const ParallelConfig& c, int64_t chunk, double grad_elem_bytes, int bucket_no);
// True when the graph is a parallel workload (info parallel=1).
bool is_parallel_graph(const Graph& g);

// Marks a builder sets on forward ops, read by finish_parallel_graph:
//   tp_out=BYTES  the op's output is a tensor-parallel partial sum (row-parallel
//                 linear, vocabulary-parallel embedding): forward allreduce
//                 (reducescatter with sp) after it; with sp, backward allgather
//                 before its backward.
//   tp_in=BYTES   the op's output feeds column-parallel linears: with sp, forward
//                 allgather after it; backward allreduce (reducescatter with sp)
//                 of its output's gradient before its backward.
//   ep_a2a=BYTES  expert all-to-all after the op (dispatch or combine), forward
//                 and backward.
//   layer=L+1     the op belongs to decoder layer L (zero=3 gathers per layer).
// The chunk graph of the builder (stage attrs set, no pass attrs) becomes the
// final graph: one training step per chunk (when `training`), collectives,
// recomputation, p2p transfers and footprint info.
Graph finish_parallel_graph(const Graph& forward, const TrainingOptions* training);
// parallel_footprint.cpp: sets out.info device{d}.weights_bytes, grads_bytes,
// optimizer_bytes, activations_bytes and kv_cache_bytes per pipeline position d,
// from `params` (per chunk, elements) and out.info chunk{c}.expert_params and,
// under autocast, chunk{c}.amp_weight_copies.
void set_parallel_footprint(Graph& out, const Graph& forward, const ParallelConfig& c,
                            const TrainingOptions* training, const std::vector<double>& params);

// Parameter elements of a forward op (weights and biases it owns).
double op_param_elems(const Op& op);

}  // namespace tessera

namespace tessera {

// Tensor and pipeline parallelism for a transformer built-in whose builder makes
// the serial graph (bert-*, transformer-base): op-name suffixes say which linears
// are column-parallel (output features split over tp: Q/K/V, the MLP up
// projection, a vocabulary projection) and which row-parallel (input features
// split, a forward allreduce after: attention output, MLP down projection), and
// which embeddings are vocabulary-parallel. Layers are the ops named
// `<prefix><L>.` for each prefix in order (their index continues across
// prefixes: an encoder's layers, then a decoder's).
struct ShardRules {
  const char* model = "";
  int64_t hidden = 0, heads = 0, ffn = 0;
  std::vector<std::string> layer_prefixes, column, row, vocab;
  // Empty: pipeline parallelism allowed; else why not (pp > 1 is an error naming it).
  const char* no_pipeline = "";
};

// The serial graph `g` (built for one microbatch) as one device's shard with the
// marks and stage tags finish_parallel_graph reads. Throws InputError naming the
// parameter (tp not dividing heads/ffn, layers not a multiple of pp x virtual
// stages, attn=eager with tp > 1, sequence_parallel or ep, pp where not allowed).
Graph shard_serial_transformer(Graph g, const ParallelConfig& c, const ShardRules& r);

// A builder for the registry: parses the parallel parameters; without any, the
// serial builder as is; else the serial graph of one microbatch, sharded.
template <Graph (*Build)(const std::map<std::string, std::string>&), const ShardRules& R>
Graph build_sharded(const std::map<std::string, std::string>& p) {
  const ParallelConfig c = parse_parallel(p, wl_int(p, "batch"));
  if (!c.active) return Build(p);
  auto q = p;
  q["batch"] = std::to_string(c.microbatch);
  return shard_serial_transformer(Build(q), c, R);
}

// The rules of bert-base, bert-large and transformer-base.
extern const ShardRules k_shard_bert_base, k_shard_bert_large, k_shard_transformer_base;

}  // namespace tessera
