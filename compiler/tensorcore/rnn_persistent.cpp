// cuDNN's persistent small-hidden RNN kernel (CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H),
// which PyTorch's get_algo picks for an LSTM or GRU of hidden <= 192
// (aten/src/ATen/native/cudnn/RNN.cpp, use_rnn_persist_small_h; enabled by
// pytorch/pytorch#62143): one kernel runs a layer's whole recurrence. The op is a
// matmul with attr rnn=3 (workloads/models/rnn.cpp): batch = steps, m = the
// batch rows, n = gates x hidden, k = hidden.
//
// The kernel as timed here (NVIDIA does not document its internals; the
// structure is that of persistent RNNs, G. Diamos et al., "Persistent RNNs:
// Stashing Recurrent Weights On-Chip", ICML 2016):
//  * W_hh is loaded once and stays on chip, its gate columns split over thread
//    blocks of k_cols_per_block columns (an assumption: one m16n8k16 tile pair);
//  * per step every block reads h_{t-1} (rows x hidden) from the L2 and its slice
//    of the input projection, multiplies (mma.sync), applies the cell to its
//    columns and stores its part of h_t; then all blocks meet at a grid barrier.
//    The barrier's arrive and poll and the load of the new h_{t-1} are three
//    dependent memory round trips per step (row_round_trip, the fitted latency
//    the row kernels use), which bound a small step.
#include "compiler/tensorcore/kernel_build.h"
#include "compiler/tensorcore/mapper.h"

namespace tessera {

using namespace tc_build;

namespace {

constexpr int64_t k_cols_per_block = 16;
constexpr int64_t k_round_trips_per_step = 3;

}  // namespace

Kernel TensorCoreMapper::lower_rnn_persistent(const Op& op, const Hardware& hw) const {
  const Levels lv = levels_of(hw);
  const int64_t steps = op.at("batch"), rows = op.at("m"), gh = op.at("n"), hidden = op.at("k");
  const int64_t gates = hidden > 0 ? gh / hidden : 0;
  if (gates != 3 && gates != 4)
    throw InputError(fmt::format("op '{}' (matmul, rnn=3): n = {} must be 3 (GRU) or 4 (LSTM) x k = {}",
                                 op.name, gh, hidden));
  const DType a = m_tc.operand_dtype(op);
  const double eb = dtype_bytes(op.dtype, 1), ob = dtype_bytes(op.out_dtype, 1);
  const int64_t blocks = std::min<int64_t>(m_s.sm, ceil_div(gh, k_cols_per_block));
  const double e = static_cast<double>(rows * hidden);

  Kernel k;
  k.op_kind = std::string(op_kind_name(op.kind));
  k.info.thread_blocks = blocks;
  k.info.mma_path = static_cast<int64_t>(MmaPath::gemm_sync);
  // Prologue: W_hh (and b_hh) into the blocks' registers and shared memory.
  Block pro;
  const double w = static_cast<double>(gh * hidden + gh) * eb;
  add_traffic(pro.instrs, lv, Opcode::load, w, w, blocks);
  k.blocks.push_back(pro);
  // One step: the input projection's slice (DRAM) and h_{t-1} broadcast to every
  // block (L2), the product on the block's columns (rows padded to the m16 tile),
  // the cell (op_cost.cpp's FLOPs; its activations on the SFU), the barrier's
  // round trips, and the store of h_t.
  Block step;
  step.repeat = steps;
  const double xproj = static_cast<double>(rows * gh) * eb;
  add_traffic(step.instrs, lv, Opcode::load, xproj, xproj + static_cast<double>(blocks) * e * eb, blocks);
  step.instrs.push_back(mma(ceil_div(rows, 16) * 16, ceil_div(gh, blocks), hidden, a, blocks));
  const double cell_flops = gates == 4 ? 28 : 19, sfu = gates == 4 ? 5 : 3;
  step.instrs.push_back(
      vec("rnn_cell", (cell_flops - sfu) * e / static_cast<double>(blocks), blocks, DType::fp32));
  step.instrs.push_back(vec("tanh", sfu * e / static_cast<double>(blocks), blocks, DType::fp32));
  Instr wait;
  wait.op = Opcode::wait;
  wait.elems = k_round_trips_per_step;
  wait.count = blocks;
  step.instrs.push_back(wait);
  add_traffic(step.instrs, lv, Opcode::store, e * ob, e * ob, blocks);
  k.blocks.push_back(step);
  k.mapping = fmt::format(
      "cuDNN persistent small-hidden RNN kernel (CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H): "
      "W_hh on chip over {} blocks; {} steps of a {}x{}x{} product, the {} cell and a grid "
      "barrier ({} dependent round trips)",
      blocks, steps, rows, gh, hidden, gates == 4 ? "LSTM" : "GRU", k_round_trips_per_step);
  set_dram_bytes(k, lv.dram);
  return k;
}

}  // namespace tessera
