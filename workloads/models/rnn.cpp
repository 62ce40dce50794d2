// Stacked LSTM and GRU (torch.nn.LSTM / nn.GRU, inference and training) as
// PyTorch runs them on a GPU: one _cudnn_rnn call (aten/src/ATen/native/RNN.cpp
// takes it whenever at::cudnn_is_acceptable(input), i.e. a CUDA tensor with cuDNN
// enabled: current TensorProperties.cpp no longer checks the dtype, where older
// releases took only fp64/fp32/fp16 and ran bf16 through ATen's per-step cell)
// with cuDNN's
// CUDNN_RNN_ALGO_STANDARD structure (J. Appleyard et al., "Optimizing Performance
// of Recurrent Neural Networks on GPUs", arXiv:1604.01946; NVIDIA, "Optimizing
// Recurrent Neural Networks in cuDNN 5", 2016):
//   per layer, one GEMM projects the inputs of every time step at once
//     (W_ih x_t for all t: m = seq*batch, n = gates*hidden, k = input);
//   per step, the recurrent GEMM (W_hh h_{t-1}: m = batch, n = gates*hidden,
//     k = hidden; step 0 multiplies the zero h_0 PyTorch passes as hx, which cuDNN
//     does not skip), then one fused point-wise kernel, the rnn_cell op (its
//     equations and traffic in workloads/op_cost.cpp).
// Every kernel after the call's first is launched by cuDNN's own loop (attr
// lib_launch: one cudaLaunchKernel of host time, not an aten op). The GEMMs carry
// attr cudnn: an fp32 RNN multiplies on the TF32 tensor cores unless
// torch.backends.cudnn.allow_tf32 is off (the GPU's cudnn_allow_tf32).
// algo (PyTorch's get_algo, aten/src/ATen/native/cudnn/RNN.cpp): for hidden <= 192
// (and not fp64) PyTorch picks CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H
// (use_rnn_persist_small_h), one persistent kernel for a layer's whole recurrence:
// per layer the input projection, then one matmul with attr rnn=3 (batch = steps;
// compiler/tensorcore/rnn_persistent.cpp). algo=auto follows that rule for
// inference; a training step models the standard algorithm's backward, so with
// train=1 auto means standard.
// Not modelled: cuDNN's overlap of consecutive layers on separate streams (layer
// l + 1's step t beside layer l's step t + 1), and the persistent algorithm
// PyTorch picks for one-layer fp16 LSTMs of batch <= 128 (PERSIST_STATIC).
//
// GRU equations (torch.nn.GRU's documentation; cuDNN's CUDNN_GRU is the same form):
//   r, z = sigmoid(W_i{r,z} x_t + b_i{r,z} + W_h{r,z} h_{t-1} + b_h{r,z})
//   n    = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
//   h_t  = (1 - z) * n + z * h_{t-1} = n + z * (h_{t-1} - n)
// An ONNX GRU with linear_before_reset = 0 (n = tanh(W_in x + W_hn (r * h) + ...))
// has no cuDNN form; it is listed op by op as a framework runs it:
//   per step the recurrent GEMM of r and z (from step 1), gates_rz (add),
//   sigmoid_rz, mul_r_h, the second recurrent GEMM, gates_n (add), tanh_n,
//   sub_h_n, mul_z and hidden (add); step 0 (h_{-1} = 0) has neither GEMM and
//   h_0 = (1 - z) * n.
#include <fmt/format.h>

#include "core/error.h"
#include "workloads/builder.h"
#include "workloads/builtin.h"

namespace tessera {

namespace {

void set_attr(GraphBuilder& b, int op, const char* key, int64_t value) {
  b.graph().ops[static_cast<size_t>(op)].attrs[key] = value;
}

// One cuDNN RNN layer (gates 4: LSTM, 3: GRU): see the top of the file.
std::vector<int> cudnn_layer(GraphBuilder& b, const std::string& pre, const std::vector<int>& deps,
                             int64_t batch, int64_t seq, int64_t in, int64_t hidden, int64_t gates,
                             int64_t tied, bool opens_call, bool persistent = false) {
  const int xproj = b.linear(pre + "input_proj", deps, seq * batch, gates * hidden, in);
  set_attr(b, xproj, "cudnn", 1);
  set_attr(b, xproj, "rnn", 1);
  if (!opens_call) set_attr(b, xproj, "lib_launch", 1);
  if (persistent) {
    // The whole recurrence: `seq` products with W_hh (and b_hh) and cells in one kernel.
    const int rec = b.linear(pre + "recurrence", {xproj}, batch, gates * hidden, hidden);
    set_attr(b, rec, "batch", seq);
    set_attr(b, rec, "cudnn", 1);
    set_attr(b, rec, "rnn", 3);
    set_attr(b, rec, "lib_launch", 1);
    return {rec};
  }
  std::vector<int> hs;
  int h = -1;
  for (int64_t t = 0; t < seq; ++t) {
    const std::string sp = fmt::format("{}t{}.", pre, t);
    std::vector<int> hdeps;
    if (h >= 0) hdeps.push_back(h);
    const int hproj = b.linear(sp + "hidden_proj", hdeps, batch, gates * hidden, hidden);
    // Every step multiplies by the same W_hh (and adds the same b_hh): one tied
    // weight per layer.
    set_attr(b, hproj, "tied", tied);
    set_attr(b, hproj, "cudnn", 1);
    set_attr(b, hproj, "rnn", 2);
    set_attr(b, hproj, "lib_launch", 1);
    std::vector<int> cdeps = {xproj, hproj};
    if (h >= 0) cdeps.push_back(h);
    h = b.vec(OpKind::rnn_cell, sp + "cell", cdeps, batch, hidden);
    set_attr(b, h, "gates", gates);
    set_attr(b, h, "lib_launch", 1);
    hs.push_back(h);
  }
  return hs;
}

}  // namespace

std::vector<int> lstm_layer(GraphBuilder& b, const std::string& pre, const std::vector<int>& deps,
                            int64_t batch, int64_t seq, int64_t in, int64_t hidden, int64_t tied,
                            bool opens_call) {
  return cudnn_layer(b, pre, deps, batch, seq, in, hidden, 4, tied, opens_call);
}

std::vector<int> gru_layer(GraphBuilder& b, const std::string& pre, const std::vector<int>& deps,
                           int64_t batch, int64_t seq, int64_t in, int64_t hidden, int64_t tied,
                           bool linear_before_reset, int64_t tied_n, bool opens_call) {
  if (linear_before_reset) return cudnn_layer(b, pre, deps, batch, seq, in, hidden, 3, tied, opens_call);
  const int xproj = b.linear(pre + "input_proj", deps, seq * batch, 3 * hidden, in);
  const auto tie = [&](int op, int64_t id) { set_attr(b, op, "tied", id); };
  std::vector<int> hs;
  int h = -1;
  for (int64_t t = 0; t < seq; ++t) {
    const std::string sp = fmt::format("{}t{}.", pre, t);
    int rz_in = xproj;
    if (t > 0) {
      const int hproj = b.linear(sp + "hidden_proj", {h}, batch, 2 * hidden, hidden);
      tie(hproj, tied);
      rz_in = b.vec(OpKind::add, sp + "gates_rz", {xproj, hproj}, batch, 2 * hidden, 2);
    }
    const int rz = b.vec(OpKind::sigmoid, sp + "sigmoid_rz", {rz_in}, batch, 2 * hidden);
    int n_in = -1;
    if (t > 0) {
      // W_hn (r * h) + b_hn: the reset gate before the second recurrent GEMM.
      const int rh = b.vec(OpKind::mul, sp + "mul_r_h", {rz, h}, batch, hidden, 2);
      const int hn = b.linear(sp + "hidden_proj_n", {rh}, batch, hidden, hidden);
      tie(hn, tied_n);
      n_in = b.vec(OpKind::add, sp + "gates_n", {xproj, hn}, batch, hidden, 2);
    } else {
      n_in = b.vec(OpKind::add, sp + "gates_n", {xproj}, batch, hidden, 2);  // + b_hn
    }
    const int n = b.vec(OpKind::tanh, sp + "tanh_n", {n_in}, batch, hidden);
    if (t == 0) {
      h = b.vec(OpKind::mul, sp + "hidden", {rz, n}, batch, hidden, 2);  // (1 - z) * n
    } else {
      const int diff = b.vec(OpKind::add, sp + "sub_h_n", {h, n}, batch, hidden, 2);
      const int zd = b.vec(OpKind::mul, sp + "mul_z", {rz, diff}, batch, hidden, 2);
      h = b.vec(OpKind::add, sp + "hidden", {n, zd}, batch, hidden, 2);
    }
    hs.push_back(h);
  }
  return hs;
}

namespace {

// Stacked recurrent network (nn.LSTM / nn.GRU): `gates` 4 (LSTM) or 3 (GRU).
Graph build_rnn(const std::map<std::string, std::string>& p, bool gru) {
  Graph g;
  g.name = gru ? "gru" : "lstm";
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  b.set_linear_bias(true);   // b_ih with the input projection, b_hh with the recurrent one
  const int64_t batch = wl_int(p, "batch"), seq = wl_int(p, "seq");
  const int64_t input = wl_int(p, "input"), hidden = wl_int(p, "hidden");
  const int64_t layers = wl_int(p, "layers");
  std::string algo = wl_choice(p, "algo", {"auto", "standard", "persist_small_h"});
  const DType dt = wl_dtype(p, "dtype");
  // PyTorch's use_rnn_persist_small_h (forward): LSTM and GRU of hidden <= 192.
  const bool small_h = hidden <= 192 && dt != DType::fp64;
  if (algo == "persist_small_h" && !small_h)
    throw InputError(
        fmt::format("{}: algo=persist_small_h needs hidden <= 192 (PyTorch's use_rnn_persist_small_h) "
                    "and a format other than fp64; hidden = {}, dtype = {}; accepted here: auto, "
                    "standard",
                    g.name, hidden, dtype_name(dt)));
  // A training step models the standard algorithm's backward: auto means standard.
  const bool train = p.count("train") && p.at("train") == "1";
  if (train && algo == "persist_small_h")
    throw InputError(
        "parameter 'algo': a training step models cuDNN's standard RNN algorithm; accepted "
        "with train=1: auto, standard");
  if (algo == "auto") algo = small_h && !train ? "persist_small_h" : "standard";
  const bool persistent = algo == "persist_small_h";
  // Ops of one layer: the input projection, then a GEMM and a cell per step (or
  // the one persistent kernel).
  const double per_step = 2.0;
  // Refused before building when over the graph's 2^20 ops (Graph::add), which
  // would otherwise be reached after seconds.
  const double ops =
      static_cast<double>(layers) * (1.0 + (persistent ? 1.0 : per_step * static_cast<double>(seq)));
  if (ops > static_cast<double>(int64_t{1} << 20))
    throw InputError(
        fmt::format("{}: layers x seq = {} x {} gives {:.4g} ops, more than the 1048576 a run takes "
                    "({} per time step and layer)",
                    g.name, layers, seq, ops, per_step));
  // nn.LSTM / nn.GRU.forward called without hx (torch/nn/modules/rnn.py): torch.zeros
  // of h_0, and the LSTM's c_0, [layers, batch, hidden] each, before the cuDNN call:
  // one fill kernel per tensor (at::zeros is empty + zero_), each an aten op. cuDNN
  // reads them inside its kernels (no op of the graph takes them as an input).
  b.vec(OpKind::copy, "h0", {}, layers * batch, hidden);
  if (!gru) b.vec(OpKind::copy, "c0", {}, layers * batch, hidden);
  std::vector<int> prev_layer_h;  // h_t ops of the layer below, per step
  for (int64_t l = 0; l < layers; ++l) {
    const std::string pre = fmt::format("l{}.", l);
    const int64_t in = l == 0 ? input : hidden;
    // One _cudnn_rnn call: its host path is paid before layer 0's first kernel.
    const bool opens_call = l == 0;
    prev_layer_h =
        cudnn_layer(b, pre, prev_layer_h, batch, seq, in, hidden, gru ? 3 : 4, l + 1, opens_call, persistent);
  }
  // The output is h_t of the last layer for every step.
  for (int op : prev_layer_h) g.ops[static_cast<size_t>(op)].attrs["output"] = 1;
  const double gh = (gru ? 3.0 : 4.0) * static_cast<double>(hidden);
  double params = 0;
  for (int64_t l = 0; l < layers; ++l)
    params +=
        gh * static_cast<double>((l == 0 ? input : hidden) + hidden) + 2 * gh;  // W_ih, W_hh, b_ih, b_hh
  g.info["params"] = params;
  g.info["tokens"] = static_cast<double>(batch * seq);
  return g;
}

Graph build_lstm_net(const std::map<std::string, std::string>& p) {
  return build_rnn(p, false);
}
Graph build_gru_net(const std::map<std::string, std::string>& p) {
  return build_rnn(p, true);
}

}  // namespace

void add_rnn_workloads(std::vector<WorkloadInfo>& out) {
  const std::vector<WorkloadParam> params = {
      {"batch", "16", "sequences"},
      {"seq", "32", "time steps"},
      {"input", "1024", "input features"},
      {"hidden", "1024", "hidden units"},
      {"layers", "2", "stacked layers"},
      {"dtype", "bf16", "operand format", ParamType::dtype},
      {"algo",
       "auto",
       "cuDNN RNN algorithm: auto (PyTorch's get_algo: persist_small_h for hidden <= 192, else standard; "
       "standard with train=1), standard (a GEMM and a fused cell kernel per step), persist_small_h (one "
       "persistent kernel per layer)",
       ParamType::choice,
       {"auto", "standard", "persist_small_h"}}};
  out.push_back({"lstm", "stacked LSTM (torch.nn.LSTM: one cuDNN RNN call)", params, build_lstm_net});
  out.push_back({"gru", "stacked GRU (torch.nn.GRU: one cuDNN RNN call)", params, build_gru_net});
}

}  // namespace tessera
