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

namespace {

Graph build_lstm(const std::map<std::string, std::string>& p) {
  Graph g;
  g.name = "lstm";
  GraphBuilder b(g, wl_dtype(p, "dtype"));
  b.set_linear_bias(true);   // b_ih with the input projection, b_hh with the recurrent one
  const int64_t batch = wl_int(p, "batch"), seq = wl_int(p, "seq");
  const int64_t input = wl_int(p, "input"), hidden = wl_int(p, "hidden");
  const int64_t layers = wl_int(p, "layers");
  // Each layer has 1 + 8 seq - 2 ops (the input projection, 8 per step but step
  // 0's recurrent GEMM and add): refused before building when over the graph's
  // 2^20 ops (Graph::add), which would otherwise be reached after seconds.
  if (static_cast<double>(layers) * (8.0 * static_cast<double>(seq) - 1.0) > static_cast<double>(int64_t{1} << 20))
    throw InputError(fmt::format("lstm: layers x seq = {} x {} gives {:.4g} ops, more than the 1048576 a run takes "
                                 "(8 per time step and layer)",
                                 layers, seq, static_cast<double>(layers) * (8.0 * static_cast<double>(seq) - 1.0)));
  std::vector<int> prev_layer_h;  // h_t ops of the layer below, per step
  for (int64_t l = 0; l < layers; ++l)
    prev_layer_h = lstm_layer(b, fmt::format("l{}.", l), prev_layer_h, batch, seq, l == 0 ? input : hidden, hidden,
                              l + 1);
  // nn.LSTM's output is h_t of the last layer for every step.
  for (int op : prev_layer_h) g.ops[static_cast<size_t>(op)].attrs["output"] = 1;
  const double h4 = 4.0 * hidden;
  double params = 0;
  for (int64_t l = 0; l < layers; ++l)
    params += h4 * ((l == 0 ? input : hidden) + hidden) + 2 * h4;  // W_ih, W_hh, b_ih, b_hh
  g.info["params"] = params;
  g.info["tokens"] = static_cast<double>(batch * seq);
  return g;
}

}  // namespace

void add_rnn_workloads(std::vector<WorkloadInfo>& out) {
  out.push_back({"lstm", "stacked LSTM (torch.nn.LSTM / cuDNN structure)",
                 {{"batch", "16", "sequences"},
                  {"seq", "32", "time steps"},
                  {"input", "1024", "input features"},
                  {"hidden", "1024", "hidden units"},
                  {"layers", "2", "stacked layers"},
                  {"dtype", "bf16", "operand format", ParamType::dtype}},
                 build_lstm});
}

}  // namespace tessera
