// Multi-device transformer workloads (see parallel.h for the contract).
#include "workloads/models/parallel.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "core/error.h"
#include "workloads/builder.h"
#include "workloads/models/parallel_ops.h"
#include "workloads/training/step.h"

namespace tessera {

bool OpSacPolicy::keeps(const Op& op) {
  if (op.get("layer", 0) != m_layer) m_layer = op.get("layer", 0), m_mm = 0;
  // _save_list: aten.mm and the SDPA kernels (flash, efficient, cuDNN); of the
  // mms, the policy recomputes those with an even count ("save every other mm").
  if (op.kind == OpKind::attention) return true;
  if (op.kind != OpKind::matmul || !op.get("param", 0)) return false;
  return ++m_mm % 2 == 1;
}

namespace {
// Named one by one: a using-directive here would reach the files after this one
// in a unity batch.
using parallel_ops::collective;
using parallel_ops::found_inf_reduces;
using parallel_ops::grad_stats_reduces;
using parallel_ops::gradient_kernel;
using parallel_ops::group_stride;
using parallel_ops::Layout;
using parallel_ops::StatsReduce;

// Ops of chunk c of the builder's graph, dependencies inside the chunk kept.
Graph extract_chunk(const Graph& g, int64_t c) {
  Graph out;
  out.name = g.name;
  std::vector<int> map(g.ops.size(), -1);
  for (size_t i = 0; i < g.ops.size(); ++i) {
    if (g.ops[i].get("stage", 0) != c) continue;
    Op op = g.ops[i];
    std::vector<int> deps;
    for (int d : op.deps)
      if (map[static_cast<size_t>(d)] >= 0) deps.push_back(map[static_cast<size_t>(d)]);
    op.deps = deps;
    op.attrs.erase("stage");
    map[i] = out.add(std::move(op));
  }
  return out;
}

// The forward op a backward op belongs to: its name up to the last ".grad".
std::string forward_name_of(const std::string& bwd) {
  const auto at = bwd.rfind(".grad");
  return at == std::string::npos ? std::string() : bwd.substr(0, at);
}

class ChunkEmitter {
 public:
  ChunkEmitter(Graph& out, const ParallelConfig& c, int64_t chunk, DType t)
      : m_out(out), m_c(c), m_chunk(chunk), m_t(t) {}

  int emit(Op op, int pass, std::vector<int> deps) {
    op.deps = std::move(deps);
    op.attrs["stage"] = m_chunk;
    op.attrs["pass"] = pass;
    return m_out.add(std::move(op));
  }
  int last() const { return static_cast<int>(m_out.ops.size()) - 1; }
  std::vector<int> after_last() const { return m_out.ops.empty() ? std::vector<int>{} : std::vector<int>{last()}; }

  // A tensor-parallel collective of `bytes` (skipped when tp = 1).
  void tp_coll(OpKind kind, const std::string& name, int64_t bytes, int pass, int64_t recompute) {
    if (m_c.tp <= 1) return;
    Op op = collective({m_c.tp, m_c.dp}, kind, name, m_t, bytes, m_c.tp, CommGroup::tp);
    if (recompute) op.attrs["recompute"] = 1;
    emit(std::move(op), pass, after_last());
  }
  OpKind tp_reduce_kind() const { return m_c.sequence_parallel ? OpKind::reducescatter : OpKind::allreduce; }

 private:
  Graph& m_out;
  const ParallelConfig& m_c;
  int64_t m_chunk;
  DType m_t;
};

// One chunk of the final graph: forward (pass 0), backward (pass 1) with the
// recomputed forward ahead of it ahead of it, optimizer (pass 2), every collective in place.
void emit_chunk(Graph& out, const Graph& fwd_all, int64_t chunk, const ParallelConfig& c,
                const TrainingOptions* training, double& chunk_params, double& model_flops) {
  const Layout lay{c.tp, c.dp};
  Graph cg = extract_chunk(fwd_all, chunk);
  if (cg.ops.empty())
    throw InputError(fmt::format("pipeline chunk {} has no ops: fewer layers than pp x virtual_stages", chunk));
  const int64_t chunks = c.chunks();
  const DType t = cg.ops.front().dtype;
  const double tbytes = dtype_info(t).storage_bits / 8.0;
  // The chunk's output (sent to the next chunk, or the model's output).
  bool has_output = false;
  for (const auto& op : cg.ops) has_output = has_output || op.get("output", 0);
  if (!has_output) cg.ops.back().attrs["output"] = 1;
  size_t nf = cg.ops.size();
  chunk_params = 0;
  double expert_params = 0;   // a MoE's expert weights (attr expert), of chunk_params
  for (const auto& op : cg.ops) {
    chunk_params += op_param_elems(op);
    if (op.get("expert", 0) != 0 && c.ep > 1) expert_params += op_param_elems(op);
  }
  out.info[fmt::format("chunk{}.expert_params", chunk)] = expert_params;
  if (training) {
    TrainingOptions o = *training;
    // The activation from the previous chunk needs its gradient; so do the given
    // hidden states of a model built without its embedding (embed=0).
    bool embeds = false;
    for (const auto& op : cg.ops) embeds = embeds || op.kind == OpKind::embedding;
    o.inputs_require_grad = chunk > 0 || !embeds;
    // Autocast without train_amp.py's loss: every chunk is given its output
    // gradient, as without amp.
    o.amp_loss = false;
    o.megatron_scaler = training->amp == Amp::fp16 && c.scaler == ScalerStack::megatron;
    // Megatron-LM's optimizer wrapper (its gradient norm; fp32 main parameters for
    // a 16-bit model), unless FSDP's scaler stack runs the step.
    o.megatron_optimizer = c.scaler == ScalerStack::megatron;
    o.main_grads_fp32 = c.grad_reduce_fp32;
    o.state_shards = c.zero >= 1 && c.dp > 1 ? c.dp : 1;
    o.expert_state_shards = c.zero >= 1 ? c.expert_dp() : 1;
    append_training_step(cg, o);
    nf = static_cast<size_t>(cg.info.at("ops_forward"));   // autocast inserts casts
    // The 16-bit weight copies autocast caches (casts of leaf weights): the
    // elements, for the footprint.
    double copies = 0;
    for (size_t i = 0; i < nf; ++i)
      if (cg.ops[i].kind == OpKind::copy && cg.ops[i].deps.empty() && cg.ops[i].name.ends_with("_autocast"))
        copies += static_cast<double>(cg.ops[i].at("rows") * cg.ops[i].at("cols"));
    if (training->amp != Amp::none) out.info[fmt::format("chunk{}.amp_weight_copies", chunk)] = copies;
  }
  // Under autocast (amp=bf16) the model and its gradients are fp32 (`t`, `tbytes`:
  // the DDP/ZeRO gradient buckets and parameter gathers move 4 B per parameter),
  // while a collective on an activation moves the type autocast left it in
  // (act_bytes() below).
  const bool amp = training && training->amp != Amp::none;
  const DType lo = training ? amp_dtype(training->amp) : t;
  const auto act_bytes_as = [&](int64_t model_bytes, DType as) {
    if (!amp) return model_bytes;
    return static_cast<int64_t>(static_cast<double>(model_bytes) / tbytes * dtype_info(as).storage_bits / 8.0);
  };
  const size_t nb = training ? static_cast<size_t>(cg.info.at("ops_backward")) : 0;
  const int64_t act_bytes = static_cast<int64_t>(info_or(fwd_all, "p2p_bytes", 0));

  ChunkEmitter em(out, c, chunk, t);
  std::vector<int> map(cg.ops.size(), -1);
  auto mapped = [&](const Op& op) {
    std::vector<int> d;
    for (int x : op.deps)
      if (map[static_cast<size_t>(x)] >= 0) d.push_back(map[static_cast<size_t>(x)]);
    return d;
  };
  auto flops_of = [&](const Op& op) { return is_collective_kind(op.kind) ? 0.0 : op_flops(op); };
  // A pipeline transfer of `bytes` after a pass; with scatter/gather each tp rank
  // sends its 1/tp and the receiver all-gathers the whole over tp (both attr p2p:
  // the receiving chunk waits for both).
  auto p2p_send = [&](const std::string& name, int64_t bytes, int pass) {
    const bool split = c.p2p_scatter_gather && c.tp > 1;
    Op s = collective(lay, OpKind::sendrecv, name, t, split ? bytes / c.tp : bytes, 2, CommGroup::pp);
    s.attrs["p2p"] = 1;
    em.emit(std::move(s), pass, em.after_last());
    if (!split) return;
    Op g = collective(lay, OpKind::allgather, name + ".gather", t, bytes, c.tp, CommGroup::tp);
    g.attrs["p2p"] = 1;
    em.emit(std::move(g), pass, em.after_last());
  };
  // zero=3: each layer's parameters gathered before its forward (and backward):
  // the dense weights over dp, a MoE's expert weights over their dp / ep ranks.
  // The unit whose parameters an op uses: its layer (0: before the first), with
  // ddp=fsdp the root (0) for the ops after the last layer too (final norm, head).
  const auto n_layers = static_cast<int64_t>(info_or(fwd_all, "layers", 0));
  const auto unit_of = [&](const Op& op) {
    const int64_t l = op.get("layer", 0);
    return c.fsdp && l > n_layers ? 0 : l;
  };
  std::map<int64_t, double> layer_params, layer_experts;
  for (size_t i = 0; i < nf; ++i) {
    const double n = op_param_elems(cg.ops[i]);
    layer_params[unit_of(cg.ops[i])] += n;
    if (cg.ops[i].get("expert", 0) != 0 && c.ep > 1) layer_experts[unit_of(cg.ops[i])] += n;
  }
  // For the footprint (parallel_footprint.cpp): the largest unit gathered per
  // layer, and with ddp=fsdp the root, which stays gathered for the whole step.
  double unit_max = 0;
  for (const auto& [unit, n] : layer_params)
    if (!(c.fsdp && unit == 0)) unit_max = std::max(unit_max, n);
  out.info[fmt::format("chunk{}.zero3_unit_params", chunk)] = unit_max;
  out.info[fmt::format("chunk{}.zero3_root_params", chunk)] = c.fsdp ? layer_params[0] : 0.0;
  // ddp=fsdp (FSDP2, fully_shard on each layer and on the root module, which holds
  // the ops outside the layers, layer 0 here): torch/distributed/fsdp/_fully_shard/
  // _fsdp_collectives.py. A unit's all-gather runs on its own stream; the
  // copy-out (foreach_all_gather_copy_out: split_with_sizes_copy of the gathered
  // buffer into the unsharded parameters, every byte read and written) runs on the
  // compute stream before the unit's ops. The root is gathered once per forward and
  // kept for the backward (the root's reshard_after_forward is False); every layer
  // again before its backward. (The copy-in of the rank's shard, 1/dp of the unit,
  // on the all-gather stream, is left out.)
  //
  // Prefetch (attr prefetch, sim/engines/parallel_pass.cpp): a unit's gathers are
  // issued once the copy-out (the first op) of the unit `prefetch` gathers before
  // has run, and its ops wait for them. FSDP2 forward: implicit prefetching with
  // two all-gather outputs alive, so unit u + 1's gather waits for unit u - 1's
  // copy-out (prefetch 2); backward: explicit prefetch of the next unit in reverse
  // order, issued after this unit's copy-out (prefetch 1): "In forward, it uses
  // implicit prefetching and allows two all-gather output tensors to be alive at
  // once ... In backward, it uses explicit prefetching based on the reverse
  // post-forward order" (pytorch/pytorch#128884, _fsdp_param_group.py
  // wait_for_unshard). Megatron-core's zero=3 is modelled one unit ahead (1) both ways: the depth of its
  // all-gather pipeline's prefetch is not taken from its source.
  // The first unit of a pass is not prefetched: its gather is exposed ("The 1st
  // all-gather will not be able to overlap with anything", docs/notes/fsdp.rst).
  bool root_gathered = false;
  auto zero3_gather = [&](int64_t layer, int pass, const std::string& what) {
    const int64_t prefetch = c.fsdp && pass == 0 ? 2 : 1;
    if (c.zero < 3) return;
    if (c.fsdp && layer == 0 && (pass == 1 || root_gathered)) return;
    if (c.fsdp && layer == 0) root_gathered = true;
    const std::string where =
        layer == 0 ? std::string(c.fsdp ? "root" : "other") : fmt::format("l{}", layer - 1);
    const double experts = layer_experts[layer], dense = layer_params[layer] - experts;
    const int64_t expert_ranks = c.expert_dp();
    if (dense > 0 && c.dp > 1) {
      Op op =
          collective(lay, OpKind::allgather, fmt::format("{}.{}.{}", c.fsdp ? "fsdp" : "zero3", what, where),
                     t, static_cast<int64_t>(dense * tbytes), c.dp, CommGroup::dp);
      op.attrs["overlap"] = 1;
      op.attrs["every_microbatch"] = 1;
      op.attrs["prefetch"] = prefetch;
      em.emit(std::move(op), pass, em.after_last());
      if (c.fsdp)
        em.emit(gradient_kernel(fmt::format("fsdp.copy_out.{}.{}", what, where), t, t, dense, 1, 1), pass,
                em.after_last());
    }
    if (experts > 0 && expert_ranks > 1) {
      Op op = collective(lay, OpKind::allgather, fmt::format("zero3.{}_expert.{}", what, where), t,
                         static_cast<int64_t>(experts * tbytes), expert_ranks, CommGroup::dp);
      op.attrs["stride"] = c.expert_dp_stride();
      op.attrs["overlap"] = 1;
      op.attrs["every_microbatch"] = 1;
      op.attrs["prefetch"] = prefetch;
      em.emit(std::move(op), pass, em.after_last());
    }
  };

  // Forward.
  int64_t cur_layer = -1;
  for (size_t i = 0; i < nf; ++i) {
    const Op& f = cg.ops[i];
    if (unit_of(f) != cur_layer) {
      cur_layer = unit_of(f);
      zero3_gather(cur_layer, 0, "gather_fwd");
    }
    Op op = f;
    map[i] = em.emit(std::move(op), 0, mapped(f));
    model_flops += flops_of(f);
    if (const int64_t b = f.get("tp_out", 0))
      em.tp_coll(em.tp_reduce_kind(), f.name + ".tp_" + std::string(op_kind_name(em.tp_reduce_kind())),
                 act_bytes_as(b, f.out_dtype), 0, 0);
    if (const int64_t b = f.get("tp_in", 0); b && c.sequence_parallel)
      em.tp_coll(OpKind::allgather, f.name + ".tp_allgather", act_bytes_as(b, f.out_dtype), 0, 0);
    if (const int64_t b = f.get("ep_a2a", 0); b && c.ep > 1) {
      Op a = collective(lay, OpKind::alltoall, f.name + ".ep_alltoall", t, act_bytes_as(b, f.out_dtype), c.ep,
                        CommGroup::ep);
      em.emit(std::move(a), 0, em.after_last());
    }
    // Vocabulary-parallel cross-entropy after the LM head (Megatron-LM
    // tensor_parallel/cross_entropy.py, _VocabParallelCrossEntropy.forward): three
    // fp32 allreduces of one value per token over the tp group -- the logits' max,
    // the target token's logit and the sum of exponentials. Its backward is local.
    if (training && c.tp > 1 && f.name == "lm_head" && f.kind == OpKind::matmul) {
      const int64_t tokens_bytes = f.at("m") * 4;
      for (const char* what : {"max", "target_logit", "sum_exp"}) {
        Op a = collective(lay, OpKind::allreduce, fmt::format("lm_head.cross_entropy.{}", what), DType::fp32,
                          tokens_bytes, c.tp, CommGroup::tp);
        em.emit(std::move(a), 0, em.after_last());
      }
    }
  }
  // The chunk's output (the residual stream: fp32 under autocast, where a bf16
  // projection added to the fp32 residual promotes).
  DType out_t = t;
  for (size_t i = 0; i < nf; ++i)
    if (cg.ops[i].get("output", 0)) out_t = cg.ops[i].out_dtype;
  if (amp) out.info[fmt::format("chunk{}.output_dtype", chunk)] = static_cast<double>(static_cast<int>(out_t));
  if (chunk + 1 < chunks && c.pp > 1) {
    p2p_send(fmt::format("pp.send_activation.c{}", chunk), act_bytes_as(act_bytes, out_t), 0);
  }
  if (!training) return;

  // Recomputation ahead of the backward (Megatron-LM: each layer's forward is
  // rerun just before its backward; here the chunk's, which costs the same). Only
  // the transformer layers are checkpointed (megatron/core/transformer/
  // transformer_block.py, _checkpointed_forward over the layers): the embeddings,
  // the final norm, the LM head and the loss keep their activations and are not
  // rerun. A graph that does not number its layers reruns every op.
  if (c.recompute != Recompute::none) {
    OpSacPolicy sac;  // recompute=op
    for (size_t i = 0; i < nf; ++i) {
      const Op& f = cg.ops[i];
      if (const int64_t l = f.get("layer", 0); n_layers > 0 && (l < 1 || l > n_layers)) continue;
      if (c.recompute == Recompute::op && sac.keeps(f)) continue;
      const bool core = f.kind == OpKind::attention || f.kind == OpKind::softmax ||
                        (f.kind == OpKind::matmul && !f.get("param", 0));
      if (c.recompute == Recompute::selective && !core) continue;
      Op op = f;
      op.attrs["recompute"] = 1;
      op.attrs.erase("output");
      op.name = f.name + ".recompute";
      em.emit(std::move(op), 1, em.after_last());
      if (c.recompute == Recompute::full) {
        if (const int64_t b = f.get("tp_out", 0)) em.tp_coll(em.tp_reduce_kind(), f.name + ".recompute.tp", b, 1, 1);
        if (const int64_t b = f.get("tp_in", 0); b && c.sequence_parallel)
          em.tp_coll(OpKind::allgather, f.name + ".recompute.tp_allgather", b, 1, 1);
      }
    }
  }

  // Backward, with the collectives placed by the forward op each gradient belongs to.
  std::map<std::string, size_t> fwd_by_name;
  for (size_t i = 0; i < nf; ++i) fwd_by_name[cg.ops[i].name] = i;
  std::map<size_t, size_t> last_bwd;   // forward op -> its last backward op
  for (size_t i = nf; i < nf + nb; ++i)
    if (auto it = fwd_by_name.find(forward_name_of(cg.ops[i].name)); it != fwd_by_name.end())
      last_bwd[it->second] = i;
  std::set<size_t> started;
  // A bucket is sent once it holds at least its limit (ddp_bucket_bytes).
  const double grad_elem_bytes = c.grad_reduce_fp32 ? 4.0 : tbytes;
  // Megatron-core's DistributedOptimizer (ddp=megatron, zero=1) reduce-scatters each
  // bucket (param_and_grad_buffer.py start_grad_sync: reduce_scatter_tensor into the
  // rank's shard when use_distributed_optimizer, else all_reduce), with or without
  // overlap; PyTorch's ZeroRedundancyOptimizer (ddp=torch) keeps DDP's all-reduce.
  const bool dist_opt_scatter = c.zero == 1 && !c.torch_ddp && !c.fsdp;
  // DDP's gradient buckets: one stream of buckets over the dp group and, for a
  // MoE's expert weights, one over the expert data-parallel group (Megatron-LM
  // DistributedDataParallel keeps expert parameters in their own buffers, reduced
  // over get_expert_data_parallel_group: the dp / ep ranks holding the same
  // experts, tp x ep devices apart; none when ep = dp).
  struct Buckets {
    double pending = 0;
    int no = 0;
    std::string name;
    int64_t ranks = 1, stride = 1;
  };
  Buckets dense{0, 0, "dp.grad_bucket", c.dp, group_stride(CommGroup::dp, c.tp, c.dp)};
  auto bucket_limit = [&](const Buckets& bk) { return ddp_bucket_bytes(c, chunk, grad_elem_bytes, bk.no); };
  Buckets expert{0, 0, "dp.expert_grad_bucket", c.expert_dp(), c.expert_dp_stride()};
  // ddp=fsdp: a reduce-scatter per unit once its backward is done (FSDP2's
  // post-backward, every microbatch), the root's last; ahead of it, on the compute
  // stream, foreach_reduce's copy-in (chunk_cat of the unit's gradients into the
  // reduce-scatter input, in the reduce type). NCCL's AVG op divides (no
  // pre/post-divide kernel); the cast of the 1/dp output and its += into the
  // sharded .grad, on the reduce-scatter stream, are left out.
  Buckets root{0, 0, "fsdp.reduce_scatter.root", c.dp, group_stride(CommGroup::dp, c.tp, c.dp)};
  if (c.fsdp) dense.name = "fsdp.reduce_scatter.l";
  const DType grad_t = c.grad_reduce_fp32 ? DType::fp32 : t;
  auto flush_bucket = [&](Buckets& bk) {
    if (bk.pending <= 0 || bk.ranks <= 1) {
      bk.pending = 0;
      return;
    }
    const bool scatter = c.zero >= 2 || dist_opt_scatter;
    const std::string name =
        &bk == &root ? bk.name : fmt::format("{}{}", bk.name, c.fsdp ? cur_layer - 1 : bk.no);
    ++bk.no;
    if (c.fsdp)
      em.emit(gradient_kernel(name + ".copy_in", t, grad_t, bk.pending / grad_elem_bytes, 1, 1), 1,
              em.after_last());
    Op op = collective(lay, scatter ? OpKind::reducescatter : OpKind::allreduce, name,
                       c.grad_reduce_fp32 ? DType::fp32 : t, static_cast<int64_t>(bk.pending), bk.ranks,
                       CommGroup::dp);
    op.attrs["stride"] = bk.stride;
    op.attrs["overlap"] = 1;
    if (c.zero >= 2) op.attrs["every_microbatch"] = 1;
    em.emit(std::move(op), 1, em.after_last());
    bk.pending = 0;
  };
  double ddp_elems = 0;  // ddp=torch: the gradients copied through the buckets
  int64_t ddp_tensors = 0;
  cur_layer = -1;
  for (size_t i = nf; i < nf + nb; ++i) {
    const Op& b = cg.ops[i];
    auto it = fwd_by_name.find(forward_name_of(b.name));
    if (it != fwd_by_name.end() && started.insert(it->second).second) {
      const Op& f = cg.ops[it->second];
      if (unit_of(f) != cur_layer) {
        if (c.fsdp && cur_layer > 0) flush_bucket(dense);  // the unit whose backward ended
        cur_layer = unit_of(f);
        zero3_gather(cur_layer, 1, "gather_bwd");
      }
      // The input gradient of the column-parallel linears f feeds is reduced inside
      // their backward (Megatron-LM LinearWithGradAccumulationAndAsyncCommunication:
      // grad_input = grad_output @ weight, all-reduced before autograd casts it to
      // the input's type): `lo` under autocast.
      if (const int64_t bytes = f.get("tp_in", 0))
        em.tp_coll(em.tp_reduce_kind(), f.name + ".grad.tp_" + std::string(op_kind_name(em.tp_reduce_kind())),
                   act_bytes_as(bytes, lo), 1, 0);
      if (const int64_t bytes = f.get("tp_out", 0); bytes && c.sequence_parallel)
        em.tp_coll(OpKind::allgather, f.name + ".grad.tp_allgather", act_bytes_as(bytes, f.out_dtype), 1, 0);
    }
    map[i] = em.emit(b, 1, mapped(b));
    model_flops += flops_of(b);
    if (it != fwd_by_name.end() && last_bwd[it->second] == i) {
      const Op& f = cg.ops[it->second];
      if (const int64_t bytes = f.get("ep_a2a", 0); bytes && c.ep > 1) {
        Op a = collective(lay, OpKind::alltoall, f.name + ".grad.ep_alltoall", t, act_bytes_as(bytes, f.out_dtype),
                          c.ep, CommGroup::ep);
        em.emit(std::move(a), 1, em.after_last());
      }
      // Megatron-LM's DDP hook without gradient_accumulation_fusion
      // (megatron/model/distributed.py, _make_param_hook): main_grad.add_(grad)
      // for each parameter, every microbatch, before the bucket reduces it. The
      // gradient (the model's type) is read, the main gradient (fp32 with
      // grad_reduce=fp32) read and written: as 16-bit units, 3 reads and an fp32
      // write, or 2 reads and a write of the same type.
      const std::vector<int64_t> tensors = training::param_tensors(f);
      if (!c.grad_accum_fusion && c.scaler == ScalerStack::megatron && !tensors.empty()) {
        const bool widen = c.grad_reduce_fp32 && t != DType::fp32;
        em.emit(gradient_kernel(f.name + ".main_grad_add", t, widen ? DType::fp32 : t, op_param_elems(f),
                                widen ? 3 : 2, static_cast<int64_t>(tensors.size())),
                1, em.after_last());
      }
      // PyTorch's .grad (ddp=torch), per parameter tensor, in the order autograd
      // runs them once the gradient is complete (torch/csrc/autograd/functions/
      // accumulate_grad.h; torch/csrc/distributed/c10d/reducer.cpp):
      //  - AccumulateGrad: the first microbatch's gradient becomes .grad (stolen,
      //    no kernel: zero_grad(set_to_none=True)); each later one is added,
      //    `variable_grad += new_grad` (2 reads, 1 write);
      //  - in the microbatch that syncs (the last; no_sync() before it) the
      //    reducer's hook, run after AccumulateGrad, copies .grad into its bucket
      //    divided by dp: mark_variable_ready_dense, at::mul_out(bucket_view,
      //    grad, 1 / dp) (1 read, 1 write), before the bucket's all-reduce.
      if (c.torch_ddp && !tensors.empty()) {
        auto grad_kernel = [&](const char* suffix, int64_t reads, int64_t when) {
          Op k = gradient_kernel(f.name + suffix, t, t, op_param_elems(f), reads,
                                 static_cast<int64_t>(tensors.size()));
          k.attrs["in_microbatch"] = when;
          em.emit(std::move(k), 1, em.after_last());
        };
        if (c.microbatches() > 1) grad_kernel(".accumulate_grad", 2, 1);
        if (dense.ranks > 1) {
          grad_kernel(".ddp_bucket_copy", 1, 2);
          ddp_elems += op_param_elems(f);
          ddp_tensors += static_cast<int64_t>(tensors.size());
        }
      }
      Buckets& bk = f.get("expert", 0) != 0 && c.ep > 1 ? expert : c.fsdp && unit_of(f) == 0 ? root : dense;
      bk.pending += op_param_elems(f) * grad_elem_bytes;
      if (c.overlap_grad_reduce && !c.fsdp && bk.pending >= bucket_limit(bk)) flush_bucket(bk);
    }
  }
  if (c.overlap_grad_reduce) {
    flush_bucket(dense);
    flush_bucket(expert);
    flush_bucket(root);
  }
  if (chunk > 0 && c.pp > 1) {
    // The gradient of the chunk's input: the previous chunk's output type.
    const DType in_t = amp ? static_cast<DType>(static_cast<int>(out.info.at(fmt::format("chunk{}.output_dtype", chunk - 1))))
                           : t;
    p2p_send(fmt::format("pp.send_gradient.c{}", chunk), act_bytes_as(act_bytes, in_t), 1);
  }

  // overlap_grad_reduce=0: the accumulated gradients are reduced after the schedule,
  // ahead of the step, the whole buffer at once: Megatron-LM's train_step calls
  // allreduce_gradients() on each model chunk once forward_backward_func returns
  // (megatron/model/distributed.py: `buffer_.data /= dp`, then all_reduce), as
  // megatron/core's finish_grad_sync does without overlap (`grad_data *=
  // gradient_scaling_factor`, then the collective: a reduce-scatter with zero=1).
  // The scale reads and writes the buffer in place; the collective is inline
  // (exposed) and counted as dp communication (attr after_backward).
  if (!c.overlap_grad_reduce)
    for (Buckets* bk : {&dense, &expert}) {
      if (bk->pending <= 0 || bk->ranks <= 1) continue;
      const DType gt = c.grad_reduce_fp32 ? DType::fp32 : t;
      const std::string name = bk == &dense ? "dp.grad_buffer" : "dp.expert_grad_buffer";
      em.emit(
          gradient_kernel(name + ".scale", gt, gt, bk->pending / (dtype_info(gt).storage_bits / 8.0), 1, 1),
          2, em.after_last());
      Op op = collective(lay, dist_opt_scatter ? OpKind::reducescatter : OpKind::allreduce, name, gt,
                         static_cast<int64_t>(bk->pending), bk->ranks, CommGroup::dp);
      op.attrs["stride"] = bk->stride;
      op.attrs["after_backward"] = 1;
      em.emit(std::move(op), 2, em.after_last());
    }

  // ddp=torch: once the backward has ended, the reducer (finalize_backward, after
  // waiting for every bucket's all-reduce) copies each reduced bucket view back
  // into its parameter's .grad (copy_bucket_to_grad: grad.copy_(bucket_view)), a
  // kernel per parameter tensor, ahead of the step.
  if (ddp_tensors > 0)
    em.emit(gradient_kernel("dp.copy_bucket_to_grad", t, t, ddp_elems, 1, ddp_tensors), 2, em.after_last());

  // Optimizer: its kernels run on the state's shard (TrainingOptions::state_shards).
  // After the found_inf check (amp=fp16) and the gradient norm's square (Megatron-LM
  // clip_grads.py get_grad_norm_fp32), the device's value is all-reduced over the
  // grad-stats group, once per device (in its first chunk); the .item() that
  // follows moves to the last all-reduce, and a device's later (interleaved)
  // chunks, whose statistics Megatron-LM reads in that one step, have none.
  for (size_t i = nf + nb; i < cg.ops.size(); ++i) {
    Op op = cg.ops[i];
    const bool found_inf = training && training->amp == Amp::fp16 && op.name == "grad_scaler.unscale";
    const bool norm = op.name == "megatron.grad_norm.pow";
    std::vector<StatsReduce> reduces;
    if (chunk < c.pp && found_inf) reduces = found_inf_reduces(c);
    if (chunk < c.pp && norm) reduces = grad_stats_reduces(c, "optimizer.grad_norm");
    const bool sync = op.get("host_sync", 0) != 0;
    if (sync && (found_inf || norm) && (chunk >= c.pp || !reduces.empty())) op.attrs.erase("host_sync");
    map[i] = em.emit(op, 2, mapped(cg.ops[i]));
    for (size_t r = 0; r < reduces.size(); ++r) {
      Op a = collective(lay, OpKind::allreduce, reduces[r].name, DType::fp32, 4, reduces[r].ranks, reduces[r].group);
      a.attrs["stride"] = reduces[r].stride;
      if (sync && r + 1 == reduces.size()) a.attrs["host_sync"] = 1;
      em.emit(std::move(a), 2, em.after_last());
    }
  }
  // ZeRO-1/2 (the distributed optimizer): each rank's updated shard gathered back,
  // the dense weights over dp, a MoE's expert weights over the expert dp ranks.
  const int64_t expert_dp = c.expert_dp();
  if (c.zero >= 1 && c.zero <= 2 && c.dp > 1 && chunk_params - expert_params > 0) {
    Op op = collective(lay, OpKind::allgather, fmt::format("zero{}.gather_params", c.zero), t,
                       static_cast<int64_t>((chunk_params - expert_params) * tbytes), c.dp, CommGroup::dp);
    em.emit(std::move(op), 2, em.after_last());
  }
  if (c.zero >= 1 && c.zero <= 2 && expert_dp > 1 && expert_params > 0) {
    Op op = collective(lay, OpKind::allgather, fmt::format("zero{}.gather_expert_params", c.zero), t,
                       static_cast<int64_t>(expert_params * tbytes), expert_dp, CommGroup::dp);
    op.attrs["stride"] = c.expert_dp_stride();
    em.emit(std::move(op), 2, em.after_last());
  }

}

}  // namespace

Graph finish_parallel_graph(const Graph& forward, const TrainingOptions* training) {
  const ParallelConfig c = parallel_config_of(forward);
  check_training_stack(c, training);
  Graph out;
  out.name = forward.name;
  out.spec = forward.spec;
  out.info = forward.info;
  const int64_t chunks = c.chunks();
  std::vector<double> params(static_cast<size_t>(chunks), 0);
  double flops = 0;
  for (int64_t ch = 0; ch < chunks; ++ch) {
    emit_chunk(out, forward, ch, c, training, params[static_cast<size_t>(ch)], flops);
    out.info[fmt::format("chunk{}.params", ch)] = params[static_cast<size_t>(ch)];
  }
  out.info["train_step"] = training ? 1 : 0;
  const bool amp = training && training->amp != Amp::none;
  if (amp) {
    out.info["amp"] = 1;
    out.info["amp_dtype"] = static_cast<double>(static_cast<int>(amp_dtype(training->amp)));
  }
  // Model FLOPs of an iteration: every device of a chunk does its shard's work
  // for every microbatch (recomputation and collectives excluded above).
  out.info["model_flops"] = flops * static_cast<double>(c.tp * c.dp * c.microbatches());

  set_parallel_footprint(out, forward, c, training, params);
  return out;
}

}  // namespace tessera
