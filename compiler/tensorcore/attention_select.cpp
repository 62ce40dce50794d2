// Attention backend choice and attn_mask costs (attention_select.h).
#include "compiler/tensorcore/attention_select.h"

#include <fmt/format.h>

#include "core/error.h"

namespace tessera {

using namespace tc_build;

SdpaQuery sdpa_query(const Op& op) {
  SdpaQuery q;
  q.dtype = op.dtype;
  q.batch = op.at("batch");
  q.heads = op.at("heads");
  q.kv_heads = op.get("kv_heads", q.heads);
  q.sq = op.at("sq");
  q.skv = op.at("skv");
  q.d = op.at("d");
  q.causal = op.get("causal", 0) != 0;
  if (op.get("bias", 0) != 0) q.mask = op.get("bias_bool", 0) != 0 ? SdpaMask::boolean : SdpaMask::additive;
  q.strided = op.get("strided", 0) != 0;
  q.mask_strided = q.mask != SdpaMask::none && op.get("bias_strided", 0) != 0;
  q.requires_grad = op.get("backward", 0) != 0;
  q.dropout = op.get("dropout", 0) != 0;
  return q;
}

AttnBackend attention_backend(const Op& op, const TensorCoreSpec& s) {
  AttnBackend b;
  if (const int64_t be = op.get("backend", 0); be != 0) {
    if (be < 1 || be > 4)
      throw InputError(fmt::format("op '{}' (attention): backend={} must be 1 (flash2), 2 (flash3/cuDNN), "
                                   "3 (efficient) or 4 (math)", op.name, be));
    b.math = be == 4;
    if (!b.math) b.path = static_cast<MmaPath>(be);
    return b;
  }
  const std::string& def = s.default_attention;
  if (def == "flash3") return b;
  if (def == "flash2" || def == "efficient") {
    b.path = def == "flash2" ? MmaPath::flash2 : MmaPath::efficient;
    return b;
  }
  // sdpa: PyTorch's rules. cuDNN's Hopper/Blackwell kernels are FlashAttention-3
  // class (warp-specialised, TMA-fed); before Hopper cuDNN would run an
  // mma.sync kernel like FlashAttention-2 (it is never preferred there).
  const SdpaChoice c = select_sdpa_backend(sdpa_query(op), SdpaDevice{s.compute_capability, s.cudnn_version});
  switch (c.backend) {
    case SdpaBackend::cudnn: b.path = s.compute_capability >= 90 ? MmaPath::flash3 : MmaPath::flash2; break;
    case SdpaBackend::flash: b.path = MmaPath::flash2; break;
    case SdpaBackend::efficient: b.path = MmaPath::efficient; break;
    case SdpaBackend::math: b.math = true; break;
  }
  // Named in the mapping when the rules passed a backend over.
  if (!c.why.empty()) b.note = fmt::format(" (SDPA backend {}: {})", sdpa_backend_name(c.backend), c.why);
  return b;
}

AttnBias attention_bias(const Op& op, const Levels& lv, MmaPath path) {
  AttnBias b;
  if (op.get("bias", 0) == 0) return b;
  b.present = true;
  const double eb = dtype_bytes(op.dtype, 1);
  const double full = static_cast<double>(op.at("batch")) * static_cast<double>(op.at("heads")) *
                      static_cast<double>(op.at("sq")) * static_cast<double>(op.at("skv"));
  const bool shared = op.get("bias_shared", 0) != 0;
  const bool head_shared = op.get("bias_head_shared", 0) != 0;
  // The mask's own elements; a broadcast one is re-read by every batch entry
  // (bias_shared) or head (bias_head_shared) from one copy, which the L2 keeps
  // while it fits in half of it (the other half streams Q, K and V).
  const double own = attention_bias_elems(op);
  b.l2 = full * eb;
  const bool fits = !lv.l2.empty() && own * eb <= lv.l2_capacity / 2;
  b.dram = ((shared || head_shared) && !fits) ? full * eb : own * eb;
  if (lv.l2.empty()) b.dram = b.l2;
  if (op.get("bias_bool", 0) != 0) {
    b.prep_read += own;          // uint8 mask
    b.prep_write += own * eb;    // additive mask in the query format
    b.prep_launches += 1;
  }
  const int64_t skv = op.at("skv");
  if (path == MmaPath::efficient && skv % 16 != 0) {
    const double padded = own / static_cast<double>(skv) * static_cast<double>(ceil_div(skv, 16) * 16);
    b.prep_read += own * eb;
    b.prep_write += padded * eb;
    b.prep_launches += 1;
  }
  const char* bcast = shared && head_shared ? " broadcast over the batch and heads"
                      : shared              ? " broadcast over the batch"
                      : head_shared         ? " broadcast over the heads"
                                            : "";
  b.note = fmt::format(", attn_mask {}{} ({:.0f} B from DRAM, {:.0f} B through the L2)",
                       op.get("bias_bool", 0) ? "bool" : "float", bcast, b.dram, b.l2);
  return b;
}

double attention_dropout_lanes(const Op& op) {
  return op.get("dropout", 0) != 0 ? k_fused_attention_dropout_lanes : 0.0;
}

void add_bias_preparation(Kernel& k, const AttnBias& bias, const Levels& lv, int64_t sms) {
  if (bias.prep_launches == 0) return;
  Block p;
  add_traffic(p.instrs, lv, Opcode::load, bias.prep_read, bias.prep_read, sms);
  add_traffic(p.instrs, lv, Opcode::store, bias.prep_write, bias.prep_write, sms);
  k.blocks.push_back(std::move(p));
  k.info.launches = k.info.launches.value_or(1) + bias.prep_launches;
}

}  // namespace tessera
