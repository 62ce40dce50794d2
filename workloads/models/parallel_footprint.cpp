// The memory footprint of a parallel workload per pipeline position (see
// parallel.h, set_parallel_footprint): weights, gradients and optimizer state of
// the device's shard, the activations the schedule keeps in flight, the KV cache.
#include <fmt/format.h>

#include <algorithm>

#include "workloads/models/parallel.h"

namespace tessera {
namespace {
// Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large
// Transformer Models", §4) count the activations one GPT layer keeps for its
// backward, in bytes, with 16-bit activations and 1-byte dropout masks:
// s*b*h*(34 + 5*a*s/h). Here with e bytes per activation element (the model's
// format), so that e = 2 gives their count. Split by what tensor parallelism
// shards: replicated are the two layer-norm inputs (2 x e), the QKV and MLP inputs
// (2 x e) and the two residual dropouts' masks (1 + 1; only when the model trains
// with dropout > 0: `dropout` ops in the graph): 10*s*b*h at e = 2; sharded are Q,
// K (2e), V (e), the projection input (e), the GELU input and the second MLP input
// (ffn/h x e each): (8 + 4*ffn/h)*s*b*h at e = 2. The attention core (softmax
// output e, with attention dropout its mask 1 and its output e: 5*a*s^2*b at e =
// 2) is sharded too and is not kept by a fused (FlashAttention) kernel or with
// selective recomputation. The same accounting for a LLaMA-style layer (info
// mlp_gated: SwiGLU, grouped-query K and V): K and V are kv_heads/heads of Q's size,
// so Q, K, V and the projection input are (2 + 2*kv/a) x e; the MLP keeps the gate
// and up outputs, SiLU's output and the product (4*ffn/h x e); RMSNorm saves its
// input as LayerNorm does. A MoE layer's ffn is its top_k experts' (info ffn). Sequence parallelism shards
// the replicated part as well; full recomputation keeps only each layer's input (the residual stream,
// e*s*b*h, /t with sp). Under autocast (amp) the model is fp32 and its residual stream stays fp32: the layer
// norms run in fp32 on fp32 inputs, which they save (4 bytes each, and a fully recomputed layer's input is 4
// bytes), and softmax runs in fp32 (autocast's fp32 list: its output 4 bytes, and what the product with V
// reads cast to 16 bits, with or without dropout); the linears and GELU save the 16-bit tensors autocast cast
// for them (e = 2).
bool trains_with_dropout(const Graph& g) {
  return std::any_of(g.ops.begin(), g.ops.end(), [](const Op& op) {
    return op.kind == OpKind::dropout || (op.kind == OpKind::attention && op.get("dropout", 0) != 0);
  });
}

double layer_activation_bytes(const Graph& g, const ParallelConfig& c, double e, bool amp) {
  const double s = info_or(g, "seq", 1), b = static_cast<double>(c.microbatch);
  const double h = info_or(g, "hidden", 1), a = info_or(g, "heads", 1), f = info_or(g, "ffn", 4 * h);
  const double t = static_cast<double>(c.tp);
  const double sbh = s * b * h;
  const double sp = c.sequence_parallel ? t : 1.0;
  const double residual = amp ? 4 : e, softmax_out = amp ? 4 : e;
  if (c.recompute == Recompute::full) return residual * sbh / sp;
  if (c.recompute == Recompute::op) {
    // The checkpointed layer's input and the outputs its policy keeps (the first
    // layer's ops, as the device holds them: q, v, w1, w2 and the SDPA output for
    // a LLaMA layer), each in the type it is produced in.
    double kept = residual * sbh / sp;
    OpSacPolicy sac;
    for (const Op& op : g.ops)
      if (op.get("layer", 0) == 1 && sac.keeps(op))
        kept += static_cast<double>(op_out_elems(op)) * dtype_info(op.out_dtype).storage_bits / 8.0;
    return kept;
  }
  const bool dropout = trains_with_dropout(g);
  const double replicated = (2 * residual + 2 * e + (dropout ? 2 : 0)) * sbh / sp;
  const double kv = info_or(g, "kv_heads", a) / a;
  const double mlp = (info_or(g, "mlp_gated", 0) != 0 ? 4 : 2) * f / h;
  const double sharded = (2 + 2 * kv + mlp) * e * sbh / t;
  const bool core_kept = info_or(g, "attn_fused", 1) == 0 && c.recompute == Recompute::none;
  // P.V's input: the dropout output, or under autocast the 16-bit cast of the
  // fp32 softmax output; without either it is the softmax output itself.
  const double pv_input = dropout || amp ? e : 0;
  const double core = core_kept ? (softmax_out + (dropout ? 1 : 0) + pv_input) * a * s * s * b / t : 0;
  return replicated + sharded + core;
}

// Chunk-microbatches whose activations a device at pipeline position d keeps at
// the peak of the schedule (Narayanan et al. 2021 §2.2; Korthikanti et al. 2022
// §4.2.3 for the interleaved schedule's warm-up).
int64_t inflight(const ParallelConfig& c, int64_t d) {
  const int64_t m = c.microbatches(), p = c.pp, v = c.virtual_stages;
  switch (c.schedule) {
    case PipeSchedule::gpipe: return m * v;
    case PipeSchedule::one_f_one_b: return std::min(m, p - d);
    case PipeSchedule::interleaved: return std::min(m * v, (p - d - 1) * 2 + (v - 1) * p + 1);
  }
  return m;
}

// Bytes per parameter of the optimizer state (ZeRO, Rajbhandari et al. 2020 §3:
// mixed-precision Adam keeps an fp32 master copy, momentum and variance, K = 12;
// fp32 training keeps momentum and variance only).
double optimizer_bytes_per_param(Optimizer o, double param_bytes) {
  const double master = param_bytes < 4 ? 4 : 0;
  switch (o) {
    case Optimizer::adamw:
    case Optimizer::adamw_fused: return master + 8;
    case Optimizer::sgd_momentum: return master + 4;
    case Optimizer::sgd: return master;
    case Optimizer::none: return 0;
  }
  return 0;
}

}  // namespace

void set_parallel_footprint(Graph& out, const Graph& forward, const ParallelConfig& c,
                            const TrainingOptions* training, const std::vector<double>& params) {
  const bool amp = training && training->amp != Amp::none;
  const int64_t chunks = c.chunks();
  const DType t = out.ops.front().dtype;
  const double pbytes = dtype_info(t).storage_bits / 8.0;
  const double dp = static_cast<double>(c.dp);
  const Optimizer opt = training ? training->optimizer : Optimizer::none;
  const double act_bytes = amp ? dtype_info(amp_dtype(training->amp)).storage_bits / 8.0 : pbytes;
  const double per_layer = training ? layer_activation_bytes(forward, c, act_bytes, amp) : 0;
  const double layers_per_chunk = info_or(forward, "layers", 0) / static_cast<double>(chunks);
  for (int64_t d = 0; d < c.pp; ++d) {
    double p = 0, pe = 0;   // the device's parameters; of them a MoE's expert weights
    for (int64_t v = 0; v < c.virtual_stages; ++v) {
      p += params[static_cast<size_t>(d + v * c.pp)];
      pe += out.info.at(fmt::format("chunk{}.expert_params", d + v * c.pp));
    }
    // What ZeRO shards over dp (the distributed optimizer: the dense weights over
    // dp, the expert weights over their dp / ep ranks): elements per device.
    const double expert_dp = static_cast<double>(c.expert_dp());
    const auto sharded = [&](bool shard) { return shard ? (p - pe) / dp + pe / expert_dp : p; };
    // Under autocast: the fp32 parameters plus the 16-bit copies of the weights
    // autocast casts (cached for the forward, saved for the backward).
    double copies = 0;
    if (amp)
      for (int64_t v = 0; v < c.virtual_stages; ++v)
        copies += out.info.at(fmt::format("chunk{}.amp_weight_copies", d + v * c.pp)) *
                  dtype_info(amp_dtype(training->amp)).storage_bits / 8.0;
    // ZeRO-3's gathered parameters in flight: two units (FSDP2's forward keeps two
    // all-gather outputs alive, its backward the current unit and the prefetched
    // one; Megatron-core's one-ahead prefetch the same), with ddp=fsdp also the
    // root, gathered for the whole step (its reshard_after_forward is False); and
    // one unit's unsharded gradients and its reduce-scatter input (FSDP2's
    // foreach_reduce_scatter_copy_in, in the reduce type) while the next unit's
    // backward runs. All of them are freed as the step goes on, but the peak of the
    // activations (the start of the backward) holds them.
    double unit = 0, root = 0;
    if (c.zero >= 3 && c.dp > 1)
      for (int64_t v = 0; v < c.virtual_stages; ++v) {
        unit = std::max(unit, out.info.at(fmt::format("chunk{}.zero3_unit_params", d + v * c.pp)));
        root += out.info.at(fmt::format("chunk{}.zero3_root_params", d + v * c.pp));
      }
    const double w = sharded(c.zero >= 3) * pbytes + copies + (2 * unit + root) * pbytes;
    // ddp=torch over dp > 1: the reducer's buckets hold a second copy of the
    // gradients beside the .grad tensors (torch.nn.parallel.DistributedDataParallel
    // with gradient_as_bucket_view=False, its default: "the saved memory size will
    // be equal to the total gradients size" when it is True).
    const double grad_copies = c.torch_ddp && c.dp > 1 ? 2.0 : 1.0;
    const double g = training ? grad_copies * sharded(c.zero >= 2) * (c.grad_reduce_fp32 ? 4.0 : pbytes) +
                                    unit * (pbytes + (c.grad_reduce_fp32 ? 4.0 : pbytes))
                              : 0;
    const double o = training ? sharded(c.zero >= 1) * optimizer_bytes_per_param(opt, pbytes) : 0;
    const double a = per_layer * layers_per_chunk * static_cast<double>(inflight(c, d));
    // KV cache (inference): K and V of every layer of the device's chunks, its
    // kv_heads/tp heads, for the replica's sequences.
    double kv = 0;
    if (!training) {
      const double ctx = info_or(forward, "context", 0), hd = info_or(forward, "head_dim", 0);
      const double kvh = info_or(forward, "kv_heads", 0) / static_cast<double>(c.tp);
      kv = 2 * layers_per_chunk * static_cast<double>(c.virtual_stages) * kvh * hd * ctx *
           static_cast<double>(c.global_batch / c.dp) * pbytes;
    }
    const std::string pre = fmt::format("device{}.", d);
    out.info[pre + "weights_bytes"] = w;
    out.info[pre + "grads_bytes"] = g;
    out.info[pre + "optimizer_bytes"] = o;
    out.info[pre + "activations_bytes"] = a;
    out.info[pre + "kv_cache_bytes"] = kv;
  }
}

}  // namespace tessera
