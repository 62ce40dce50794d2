#include "models/compute/host.h"

#include <algorithm>

#include "workloads/ir.h"

namespace tessera {

std::string_view host_op_name(HostOp op) {
  switch (op) {
    case HostOp::elementwise: return "elementwise";
    case HostOp::reduction: return "reduction";
    case HostOp::norm: return "norm";
    case HostOp::copy: return "copy";
    case HostOp::matmul: return "matmul";
    case HostOp::scaled_mm: return "scaled_mm";
    case HostOp::int_mm: return "int_mm";
    case HostOp::conv: return "conv";
    case HostOp::attention: return "attention";
    case HostOp::other: return "other";
  }
  return "other";
}

HostOp host_op(const Kernel& k) {
  OpKind kind{};
  if (!parse_op_kind(k.op_kind, kind)) return HostOp::other;
  switch (kind) {
    case OpKind::matmul:
      for (const Block& b : k.blocks)
        for (const Instr& in : b.instrs)
          if (in.op == Opcode::mma) {
            if (in.a == DType::fp8_e4m3 || in.a == DType::fp8_e5m2) return HostOp::scaled_mm;
            if (in.a == DType::int8) return HostOp::int_mm;
            return HostOp::matmul;
          }
      return HostOp::matmul;
    case OpKind::conv2d: return HostOp::conv;
    case OpKind::attention: return HostOp::attention;
    case OpKind::layernorm:
    case OpKind::rmsnorm:
    case OpKind::batchnorm:
    case OpKind::softmax: return HostOp::norm;
    case OpKind::copy:
    case OpKind::transpose:
    case OpKind::kv_read:
    case OpKind::kv_write: return HostOp::copy;
    case OpKind::reduce: return HostOp::reduction;
    case OpKind::gelu:
    case OpKind::silu:
    case OpKind::relu:
    case OpKind::sigmoid:
    case OpKind::tanh:
    case OpKind::rnn_cell:
    case OpKind::dropout:
    case OpKind::add:
    case OpKind::mul:
    case OpKind::maxpool:
    case OpKind::avgpool:
    case OpKind::embedding: return HostOp::elementwise;
    default: return HostOp::other;
  }
}

double HostIssue::launch(double host_s) {
  double l = m_h;
  // Q launches outstanding: the launch call returns once the oldest has ended.
  if (m_depth > 0 && m_issued >= m_depth && !m_ends.empty()) l = std::max(l, m_ends.front());
  m_h = l + host_s;
  ++m_issued;
  return l;
}

void HostIssue::sync(double end_s) { m_h = std::max(m_h, end_s); }

void HostIssue::retire(double end_s) {
  m_ends.push_back(end_s);
  if (m_depth > 0)
    while (static_cast<int64_t>(m_ends.size()) > m_depth) m_ends.pop_front();
}

}  // namespace tessera
