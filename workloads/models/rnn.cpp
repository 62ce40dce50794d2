// Stacked LSTM (torch.nn.LSTM, inference) in the structure of its cuDNN
// implementation: per layer, one GEMM projects the inputs of every time step
// at once (W_ih x_t for all t: m = seq*batch, n = 4*hidden, k = input), then each
// step runs the recurrent GEMM (W_hh h_{t-1}: m = batch, n = 4*hidden, k = hidden)
// and the cell's point-wise work:
//   gates = xproj_t + hproj_t                       add      batch x 4h
//   i, f, o = sigmoid(.), g = tanh(.)               sigmoid  batch x 3h, tanh batch x h
//   c_t = f * c_{t-1} + i * g                       mul      batch x 2h (both products), add
//   h_t = o * tanh(c_t)                             tanh, mul batch x h
// cuDNN fuses the point-wise part into one kernel; it is listed op by op so its
// FLOPs and bytes are explicit. Step 0 has h_{-1} = c_{-1} = 0 (no recurrent GEMM).
//
// Stacked GRU (torch.nn.GRU) in the same structure, with PyTorch's equations
// (torch.nn.GRU's documentation; cuDNN's CUDNN_GRU is the same form):
//   r, z = sigmoid(W_i{r,z} x_t + b_i{r,z} + W_h{r,z} h_{t-1} + b_h{r,z})
//   n    = tanh(W_in x_t + b_in + r * (W_hn h_{t-1} + b_hn))
//   h_t  = (1 - z) * n + z * h_{t-1} = n + z * (h_{t-1} - n)
// per layer the input projection (n = 3*hidden), per step the recurrent GEMM
// (n = 3*hidden), then
//   gates_rz = xproj_rz + hproj_rz, sigmoid           add, sigmoid  batch x 2h
//   mul_r_hn = r * hproj_n, gates_n = xproj_n + .     mul, add      batch x h
//   tanh_n, sub_h_n = h - n, mul_z = z * ., hidden    tanh, add, mul, add
// Step 0 (h_{-1} = 0) has no recurrent GEMM and h_0 = (1 - z) * n (one mul).
#include <fmt/format.h>

#include "core/error.h"
#include "workloads/builder.h"
#include "workloads/builtin.h"

namespace tessera {

std::vector<int> lstm_layer(GraphBuilder& b, const std::string& pre, const std::vector<int>& deps, int64_t batch,
                            int64_t seq, int64_t in, int64_t hidden, int64_t tied) {
  const int xproj = b.linear(pre + "input_proj", deps, seq * batch, 4 * hidden, in);
  std::vector<int> hs;
  int h = -1, c = -1;
  for (int64_t t = 0; t < seq; ++t) {
    const std::string sp = fmt::format("{}t{}.", pre, t);
    int gates = xproj;
    if (t > 0) {
      const int hproj = b.linear(sp + "hidden_proj", {h}, batch, 4 * hidden, hidden);
      // Every step multiplies by the same W_hh (and adds the same b_hh): one tied
      // weight per layer for a training step.
      b.graph().ops[static_cast<size_t>(hproj)].attrs["tied"] = tied;
      gates = b.vec(OpKind::add, sp + "gates", {xproj, hproj}, batch, 4 * hidden, 2);
    }
    const int sig = b.vec(OpKind::sigmoid, sp + "sigmoid_ifo", {gates}, batch, 3 * hidden);
    const int cand = b.vec(OpKind::tanh, sp + "tanh_g", {gates}, batch, hidden);
    std::vector<int> prod_deps = {sig, cand};
    if (c >= 0) prod_deps.push_back(c);
    const int prods = b.vec(OpKind::mul, sp + "mul_fc_ig", prod_deps, batch, 2 * hidden, 2);
    c = b.vec(OpKind::add, sp + "cell", {prods}, batch, hidden, 2);
    const int tc = b.vec(OpKind::tanh, sp + "tanh_c", {c}, batch, hidden);
    h = b.vec(OpKind::mul, sp + "hidden", {sig, tc}, batch, hidden, 2);
    hs.push_back(h);
  }
  return hs;
}

std::vector<int> gru_layer(GraphBuilder& b, const std::string& pre, const std::vector<int>& deps,
                           int64_t batch, int64_t seq, int64_t in, int64_t hidden, int64_t tied,
                           bool linear_before_reset, int64_t tied_n) {
  const int xproj = b.linear(pre + "input_proj", deps, seq * batch, 3 * hidden, in);
  const auto tie = [&](int op, int64_t id) { b.graph().ops[static_cast<size_t>(op)].attrs["tied"] = id; };
  std::vector<int> hs;
  int h = -1;
  for (int64_t t = 0; t < seq; ++t) {
    const std::string sp = fmt::format("{}t{}.", pre, t);
    int rz_in = xproj, hproj = -1;
    if (t > 0) {
      // linear_before_reset: W_h{r,z,n} h at once; otherwise W_h{r,z} h only.
      hproj = b.linear(sp + "hidden_proj", {h}, batch, (linear_before_reset ? 3 : 2) * hidden, hidden);
      tie(hproj, tied);
      rz_in = b.vec(OpKind::add, sp + "gates_rz", {xproj, hproj}, batch, 2 * hidden, 2);
    }
    const int rz = b.vec(OpKind::sigmoid, sp + "sigmoid_rz", {rz_in}, batch, 2 * hidden);
    int n_in = -1;
    if (linear_before_reset) {
      // r * (W_hn h + b_hn); at step 0 W_hn h = 0 leaves b_hn.
      std::vector<int> d = {rz};
      if (hproj >= 0) d.push_back(hproj);
      const int rhn = b.vec(OpKind::mul, sp + "mul_r_hn", d, batch, hidden, 2);
      n_in = b.vec(OpKind::add, sp + "gates_n", {xproj, rhn}, batch, hidden, 2);
    } else if (t > 0) {
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

// Ops of one recurrent layer: the input projection, `first` ops at step 0 (no
// recurrent GEMM) and `per_step` at each later one (LSTM: 6 and 8, 8 seq - 1 in
// all; GRU: 5 and 9, 9 seq - 3).
double recurrent_layer_ops(int64_t seq, double first, double per_step) {
  return 1.0 + first + per_step * (static_cast<double>(seq) - 1.0);
}

// Stacked recurrent network (nn.LSTM / nn.GRU): `gates` 4 (LSTM) or 3 (GRU).
Graph build_rnn(const std::map<std::string, std::string>& p, bool gru) {
  Graph g;
  g.name = gru ? "gru" : "lstm";
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  b.set_linear_bias(true);   // b_ih with the input projection, b_hh with the recurrent one
  const int64_t batch = wl_int(p, "batch"), seq = wl_int(p, "seq");
  const int64_t input = wl_int(p, "input"), hidden = wl_int(p, "hidden");
  const int64_t layers = wl_int(p, "layers");
  const double per_step = gru ? 9.0 : 8.0;
  // Refused before building when over the graph's 2^20 ops (Graph::add), which
  // would otherwise be reached after seconds.
  const double ops = static_cast<double>(layers) * recurrent_layer_ops(seq, gru ? 5.0 : 6.0, per_step);
  if (ops > static_cast<double>(int64_t{1} << 20))
    throw InputError(
        fmt::format("{}: layers x seq = {} x {} gives {:.4g} ops, more than the 1048576 a run takes "
                    "({} per time step and layer)",
                    g.name, layers, seq, ops, per_step));
  std::vector<int> prev_layer_h;  // h_t ops of the layer below, per step
  for (int64_t l = 0; l < layers; ++l) {
    const std::string pre = fmt::format("l{}.", l);
    const int64_t in = l == 0 ? input : hidden;
    prev_layer_h = gru ? gru_layer(b, pre, prev_layer_h, batch, seq, in, hidden, l + 1)
                       : lstm_layer(b, pre, prev_layer_h, batch, seq, in, hidden, l + 1);
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
      {"batch", "16", "sequences"},        {"seq", "32", "time steps"},
      {"input", "1024", "input features"}, {"hidden", "1024", "hidden units"},
      {"layers", "2", "stacked layers"},   {"dtype", "bf16", "operand format", ParamType::dtype}};
  out.push_back({"lstm", "stacked LSTM (torch.nn.LSTM / cuDNN structure)", params, build_lstm_net});
  out.push_back({"gru", "stacked GRU (torch.nn.GRU / cuDNN structure)", params, build_gru_net});
}

}  // namespace tessera
