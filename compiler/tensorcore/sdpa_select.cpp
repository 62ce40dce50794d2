// PyTorch's SDPA backend selection as rules (sdpa_select.h states them and their
// sources).
#include "compiler/tensorcore/sdpa_select.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace tessera {

std::string_view sdpa_backend_name(SdpaBackend b) {
  switch (b) {
    case SdpaBackend::cudnn: return "cudnn";
    case SdpaBackend::flash: return "flash";
    case SdpaBackend::efficient: return "efficient";
    case SdpaBackend::math: return "math";
  }
  return "?";
}

namespace {

bool half(DType t) { return t == DType::fp16 || t == DType::bf16; }

// check_dtypes_low_precision: fp16 and bf16 from sm80, fp16 only before.
bool low_precision_ok(DType t, int cc) { return cc >= 80 ? half(t) : t == DType::fp16; }

// Each returns "" when the backend can run `q`, else the first filter that fails.
std::string cudnn_fails(const SdpaQuery& q, const SdpaDevice& dev) {
  const int cc = dev.compute_capability;
  if (dev.cudnn_version < 90000) return "cuDNN older than 9.0";
  if (q.dropout && dev.cudnn_version > 91100 && dev.cudnn_version < 91400)
    return "cuDNN 9.11..9.13 takes no dropout";
  if (!low_precision_ok(q.dtype, cc)) return fmt::format("cuDNN needs fp16/bf16, not {}", dtype_name(q.dtype));
  if (cc < 80 || cc > 121) return fmt::format("cuDNN needs sm80..sm121, not sm{}", cc);
  if (q.strided) return "cuDNN needs contiguous last dimensions";
  if (q.mask_strided) return "cuDNN needs the attn_mask's last dimension contiguous";
  if (q.batch > 65535 || q.heads > 65535) return "cuDNN takes at most 65535 batches and heads";
  // check_cudnn_tensor_shapes: head-dim limit by version and architecture.
  const bool sm90_10x = cc == 90 || (cc >= 100 && cc < 110);
  int64_t limit = 128;
  if (sm90_10x && dev.cudnn_version > 92200) limit = 256;
  if (q.d > limit) return fmt::format("cuDNN head dim {} > {}", q.d, limit);
  if (q.d % 8 != 0) return fmt::format("cuDNN head dim {} is not a multiple of 8", q.d);
  if (q.skv == 1) return "cuDNN takes no key length 1";
  if (q.requires_grad && sm90_10x && dev.cudnn_version > 92200 && q.d > 128 && q.d != 256)
    return "cuDNN backward takes head dim <= 128 or 256";
  return "";
}

std::string flash_fails(const SdpaQuery& q, const SdpaDevice& dev) {
  const int cc = dev.compute_capability;
  if (q.mask != SdpaMask::none) return "flash takes no attn_mask";
  if (q.d > 256) return fmt::format("flash head dim {} > 256", q.d);
  if (cc < 80 || cc > 121) return fmt::format("flash needs sm80..sm121, not sm{}", cc);
  if (q.requires_grad && ((cc >= 86 && cc <= 89) || cc >= 120) && q.d > 192 && q.d <= 224)
    return "flash backward on sm86-89/sm120 refuses head dim in (192, 224]";
  if (q.causal && q.sq != q.skv) return "flash refuses is_causal with sq != skv";
  if (!low_precision_ok(q.dtype, cc)) return fmt::format("flash needs fp16/bf16, not {}", dtype_name(q.dtype));
  if (q.strided) return "flash needs contiguous last dimensions";
  return "";
}

// minimum_gemm_alignment (sdp_utils.cpp): 4 from sm80, raised to 128 bits of
// elements where tensor cores run the format (sm80+: all; sm70: fp16/bf16).
int64_t efficient_alignment(DType t, int cc) {
  int64_t a = cc >= 80 ? 4 : 1;
  const bool tc = cc >= 80 || (cc >= 70 && half(t));
  if (tc) a = std::max<int64_t>(a, 128 / (half(t) ? 16 : 32));
  return a;
}

std::string efficient_fails(const SdpaQuery& q, const SdpaDevice& dev) {
  const int cc = dev.compute_capability;
  if (cc < 50 || cc > 121) return fmt::format("efficient needs sm50..sm121, not sm{}", cc);
  const int64_t a = efficient_alignment(q.dtype, cc);
  if (q.d % a != 0) return fmt::format("efficient head dim {} is not a multiple of {}", q.d, a);
  if (q.strided) return "efficient needs contiguous last dimensions";
  if (q.mask_strided) return "efficient needs the attn_mask's last dimension contiguous";
  if (q.kv_heads != q.heads)
    return fmt::format("efficient takes no grouped-query heads ({} query heads, {} key/value heads)", q.heads,
                       q.kv_heads);
  const bool dtype_ok = q.dtype == DType::fp16 || q.dtype == DType::fp32 || (cc >= 80 && q.dtype == DType::bf16);
  if (!dtype_ok) return fmt::format("efficient takes fp16/fp32{} inputs, not {}", cc >= 80 ? "/bf16" : "",
                                    dtype_name(q.dtype));
  return "";
}

}  // namespace

SdpaChoice select_sdpa_backend(const SdpaQuery& q, const SdpaDevice& dev) {
  const int cc = dev.compute_capability;
  // check_prefer_cudnn_attention (CUDA 13 build): cuDNN > 9.15.0 on sm9x/sm10x.
  const bool prefer_cudnn = dev.cudnn_version > 91500 && (cc / 10 == 9 || cc / 10 == 10);
  using B = SdpaBackend;
  const std::array<B, 4> order = prefer_cudnn ? std::array<B, 4>{B::cudnn, B::flash, B::efficient, B::math}
                                              : std::array<B, 4>{B::flash, B::efficient, B::math, B::cudnn};
  SdpaChoice c;
  for (B b : order) {
    std::string fail;
    if (b == B::cudnn) fail = cudnn_fails(q, dev);
    if (b == B::flash) fail = flash_fails(q, dev);
    if (b == B::efficient) fail = efficient_fails(q, dev);
    if (fail.empty()) {
      c.backend = b;
      return c;
    }
    c.why += (c.why.empty() ? "" : "; ") + fail;
  }
  return c;   // unreachable: math accepts everything
}

}  // namespace tessera
