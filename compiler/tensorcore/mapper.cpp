// The tensor-core mapper's dispatch: one kernel family per op kind.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>

#include "compiler/tensorcore/attention_select.h"
#include "compiler/tensorcore/kernel_build.h"
#include "compiler/tensorcore/mapper.h"
#include "core/error.h"
#include "core/math.h"
#include "models/hardware.h"
#include "models/memory/memory.h"

namespace tessera {

using namespace tc_build;   // instruction builders shared by the mapper files (kernel_build.h)

Kernel TensorCoreMapper::lower(const Graph& g, int index, const Hardware& hw) const {
  if (index < 0 || static_cast<size_t>(index) >= g.ops.size())
    throw std::logic_error(fmt::format("tensorcore::lower: op index {} out of range", index));
  const Op& op = g.ops[static_cast<size_t>(index)];
  Kernel k;
  switch (op.kind) {
    case OpKind::matmul: {
      GemmShape s{op.at("batch"), op.at("m"), op.at("n"), op.at("k"), op.get("b_shared", 0) != 0,
                  op.dtype, op.out_dtype, op.get("fast_accum", 0) != 0};
      k = lower_gemm(op, s, static_cast<double>(s.batch * s.m * s.k) * dtype_bytes(s.a, 1), hw);
      break;
    }
    case OpKind::conv2d: {
      // Implicit GEMM of the pass (conv_gemm_dims: forward M = n*ho*wo, N = cout,
      // K = cin*r*s per group; data and weight gradients). The im2col tile is
      // gathered through the L2, so DRAM reads the activation it is built from
      // once, not the r*s-times larger im2col matrix: the input (forward), the
      // output gradient (dgrad). wgrad's im2col of the input goes on the A side
      // (dW^T = im2col(x)^T dY: M and N swapped) for the same reason.
      const ConvGemm c = conv_gemm_dims(op);
      const int64_t grad = op.get("grad", 0);
      GemmShape s{c.groups, c.m, c.n, c.k, true, op.dtype, op.out_dtype};
      const int64_t dil = op.get("dilation", 1);
      const int64_t ho = conv_out_dim(op.at("h"), op.at("r"), op.at("stride"), op.at("pad"), dil);
      const int64_t wo = conv_out_dim(op.at("w"), op.at("s"), op.at("stride"), op.at("pad"), dil);
      double a = static_cast<double>(op.at("n") * op.at("cin") * op.at("h") * op.at("w"));
      if (grad == 1) a = static_cast<double>(op.at("n") * op.at("cout") * ho * wo);
      if (grad == 2) s = GemmShape{c.groups, c.n, c.m, c.k, false, op.dtype, op.out_dtype};
      k = lower_gemm(op, s, dtype_bytes(op.dtype, a), hw);
      break;
    }
    case OpKind::attention:
      if (op.get("backward", 0)) {
        k = lower_attention_backward(op, hw);
        break;
      }
      if (const AttnBackend be = attention_backend(op, m_s); be.math) {
        k = lower_attention_math(op, hw, be.note);
        break;
      }
      k = (op.at("sq") * (op.at("heads") / op.get("kv_heads", op.at("heads"))) <= 64 && op.at("sq") < op.at("skv"))
              ? lower_decode_attention(op, hw)
              : lower_attention(op, hw);
      break;
    case OpKind::allreduce:
    case OpKind::allgather:
    case OpKind::reducescatter:
    case OpKind::alltoall:
    case OpKind::broadcast:
    case OpKind::sendrecv: k = lower_collective(op, hw); break;
    default: k = lower_vector(op, hw); break;
  }
  k.name = fmt::format("{}#{}", op.name.empty() ? std::string(op_kind_name(op.kind)) : op.name, index);
  k.op_index = index;
  k.flops = op_flops(op);
  k.bytes = op_min_bytes(op);
  return k;
}
}  // namespace tessera
