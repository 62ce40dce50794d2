#pragma once
// The training step's state while append_training_step() (workloads/training.h)
// walks a forward graph (internal to workloads/training/). Files: step.cpp (the
// walk: requires_grad, the seeds, gradient accumulation and the bookkeeping of
// parameter gradients), autograd.cpp (the backward kernels per op kind),
// optimizers.cpp (torch.optim's kernels).
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "workloads/ir.h"
#include "workloads/training.h"

namespace tessera::training {

// Parameter tensors of a forward op (elements each), in nn.Module order (weight,
// then bias).
std::vector<int64_t> param_tensors(const Op& op);
// A 2-D view (rows x cols) of an op's output, for the kernels that add or copy it.
std::pair<int64_t, int64_t> out_shape(const Op& op);
// autocast.cpp: rewrites an fp32 forward graph into what torch.autocast(bfloat16
// or float16) launches (g.info amp = 1) and, with `loss`, appends append_loss().
void apply_autocast(Graph& g, Amp amp, bool loss);
// train_amp.py's loss y.float().pow(2).mean() (marked output=1; g.info amp_loss =
// 1) and, with fp16, GradScaler's scaler.scale(loss) (g.info grad_scaler = 1).
void append_loss(Graph& g, Amp amp);
// Inserts BatchNorm2d's training-mode num_batches_tracked.add_(1) before each
// batch-norm (autocast.cpp).
void add_batchnorm_counters(Graph& g);

class Step {
 public:
  Step(Graph& g, const TrainingOptions& opt)
      : m_g(g), m_opt(opt), m_fwd(static_cast<int>(g.ops.size())), m_amp(g.info.count("amp") != 0),
        m_amp_loss(g.info.count("amp_loss") != 0), m_scaler(g.info.count("grad_scaler") != 0) {}

  void run();

 private:
  static constexpr int k_none = -2;   // no gradient yet
  static constexpr int k_seed = -1;   // the given output gradient (no kernel made it)

  // step.cpp
  void check() const;
  // Data dependencies, each producer once, in order.
  static std::vector<int> unique_deps(const Op& op);
  void mark_requires_grad();
  void seed_outputs();
  int emit(Op op) { return m_g.add(std::move(op)); }
  std::vector<int> with_grad(int grad, std::vector<int> saved) const;
  static Op vec_op(OpKind kind, std::string name, int64_t rows, int64_t cols, DType in, DType out,
                   std::vector<int> deps);
  static Op matmul_op(std::string name, int64_t batch, int64_t m, int64_t n, int64_t k, DType t,
                      std::vector<int> deps, bool b_shared);
  static Op reduce_op(std::string name, int64_t rows, int64_t cols, int64_t inputs, int64_t outputs, DType in,
                      DType out, std::vector<int> deps);
  void contribute(int d, int src);
  // A gradient inside one cuDNN RNN call (rnn.cpp): a second one for the same
  // tensor is read by the kernel that consumes it, not added by a kernel of its
  // own (the cell backward reads dh from the layer above and from the recurrent
  // GEMM, and dc; the input projection's gradient is one buffer of every step's
  // slice).
  void join(int d, int src);
  // `whole_group`: the one gradient of a tied weight's every use (cuDNN's
  // recurrent weight gradient over all steps at once).
  void weight_grad(int i, int src, int64_t rows, int64_t cols, const char* what, bool whole_group = false);
  // Whether input `d` of an op (or, with d < 0, a leaf input) needs a gradient.
  bool needs(int d) const { return d >= 0 ? m_rg[d] != 0 : m_opt.inputs_require_grad; }

  // autograd.cpp: the backward kernels of forward op `i`.
  void backward(int i);
  void linear(int i, const Op& f, int dy, const std::vector<int>& dd);
  void bmm(int i, const Op& f, int dy);
  void conv(int i, const Op& f, int dy, const std::vector<int>& dd);
  void attention(int i, const Op& f, int dy, const std::vector<int>& dd);
  void mul(int i, const Op& f, int dy, const std::vector<int>& dd);
  // The gradient of an add's or a concatenation's learned tensor (attr param_elems)
  // that the op reads `reads` elements of.
  void param_grad(int i, const Op& f, int dy, int64_t reads);
  void pow(const Op& f, int dy, const std::vector<int>& dd);
  // rnn.cpp's cuDNN RNN layers: _cudnn_rnn_backward (cudnnRNNBackwardData, then
  // cudnnRNNBackwardWeights).
  void rnn_cell(const Op& f, int dy, const std::vector<int>& dd);
  void rnn_gemm(int i, const Op& f, int dy, const std::vector<int>& dd);
  // Marks every kernel of one backward RNN call after its first as launched by
  // cuDNN's loop (lib_launch).
  Op& rnn_launch(Op& op);
  // Mixed precision: the format of the gradient op `src` hands over (the seed: the
  // tensor's own), and the parameters' format (fp32 master weights).
  DType grad_dtype(int d, int src) const;
  DType param_dtype(const Op& f) const { return m_amp ? DType::fp32 : f.dtype; }

  // optimizers.cpp: optimizer.step().
  void foreach_op(const std::string& name, int reads, int writes, int flops, int sfu, int depth, bool scalar_list,
                  DType t, const std::vector<int64_t>& numels);
  void optimizer_step();
  // The deps of the next optimizer-step kernel: every parameter gradient for the
  // first, then the kernel before.
  std::vector<int> step_deps();
  // grad_scaler.cpp: GradScaler's kernels before optimizer.step() (the inf check
  // and unscale) and after it (the scale update); `fused`: an optimizer with
  // _step_supports_amp_scaling (fused AdamW), which unscales inside its kernel.
  // unscaled_first: scaler.unscale_(optimizer) before clipping, ahead of step().
  void grad_scaler_unscale(bool fused, bool unscaled_first = false);
  void clip_grad_norm(DType grads);
  void grad_scaler_update();
  // optimizers.cpp, Megatron-LM's wrapper (TrainingOptions::megatron_optimizer):
  // the copies between the 16-bit model and the fp32 main parameters, and the
  // gradient norm.
  void megatron_main_grads(DType model);
  void megatron_grad_norm(DType grads);
  void megatron_copy_params(DType model);
  // A Python loop of one copy_ (or .float()) per tensor of m_step_tensors: one op
  // of that many launches and host calls.
  void per_tensor_copy(const std::string& name, DType in, DType out);
  int scalar_op(OpKind kind, const std::string& name, DType in, DType out);

  Graph& m_g;
  const TrainingOptions& m_opt;
  const int m_fwd;
  const bool m_amp;        // the forward ran under autocast (autocast.cpp)
  const bool m_amp_loss;   // ... with the loss appended (its backward starts with ones_like)
  const bool m_scaler;     // ... and GradScaler (amp=fp16)
  bool m_stepping = false; // an optimizer-step kernel was emitted
  std::map<std::pair<int64_t, std::string>, int> m_tied_left;   // tied id, tensor -> gradients still to come
  std::vector<char> m_rg;
  std::vector<int> m_grad;       // per forward op: op holding its output gradient
  std::map<int, std::vector<int>> m_joined;  // forward op -> further gradients its consumer reads (join)
  bool m_rnn_open = false;                   // the last backward kernel was part of a cuDNN RNN call
  std::vector<int> m_acc;        // accumulations made per forward op (names)
  std::vector<char> m_wgrad;     // forward op got its weight gradient
  std::map<std::pair<int64_t, std::string>, int> m_tied_grad;   // tied id, tensor -> op + 1
  std::vector<int64_t> m_tensors;
  std::vector<int64_t> m_step_tensors;   // the tensors (or pieces) the optimizer steps: m_tensors' shard
  std::vector<int> m_param_grads;   // ops that made (or summed) a parameter gradient
  int64_t m_params = 0;
  int m_cur = -1;                   // forward op whose backward is being appended
};

}  // namespace tessera::training
