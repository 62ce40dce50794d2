// Recurrent layers as PyTorch runs them on a GPU (workloads/models/rnn.cpp): one
// cuDNN RNN call, its fused cell (rnn_cell), the kernels cuDNN's loop launches,
// the TF32 switch of cuDNN's GEMMs, and _cudnn_rnn_backward's structure.
#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "compiler/compile.h"
#include "models/hardware.h"
#include "sim/propagate.h"
#include "sim/simulate.h"
#include "tests/support/graph_ops.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

Op cell(int64_t gates, OpAttrs more = {}) {
  Op op;
  op.name = "cell";
  op.kind = OpKind::rnn_cell;
  op.dtype = op.out_dtype = DType::bf16;
  op.attrs = {{"rows", 16}, {"cols", 1024}, {"gates", gates}};
  for (const auto& [k, v] : more) op.attrs[k] = v;
  return op;
}

using testing::find_op;

}  // namespace

TEST_CASE("rnn_cell: FLOPs and bytes of the fused LSTM and GRU cells", "[gpu][rnn]") {
  // E = 16 rows x 1024 hidden units = 16384 elements of 2 bytes (op_cost.cpp).
  // LSTM forward: 28 FLOP per element; reads xproj, hproj (4 + 4) and c' (1),
  // writes h and c: 9 x 16384 x 2 = 294912 and 2 x 16384 x 2 = 65536 bytes.
  CHECK(op_flops(cell(4)) == 28.0 * 16384);
  CHECK(op_traffic(cell(4)).read == 294912.0);
  CHECK(op_traffic(cell(4)).written == 65536.0);
  // A training forward also keeps the 4 gate activations: + 4 x 16384 x 2.
  CHECK(op_traffic(cell(4, {{"training", 1}})).written == 65536.0 + 131072.0);
  // LSTM backward: 22 FLOP; reads dh, dc, 4 activations, c', c (8 E), writes the
  // 4 gate gradients and dc' (5 E).
  CHECK(op_flops(cell(4, {{"backward", 1}})) == 22.0 * 16384);
  CHECK(op_traffic(cell(4, {{"backward", 1}})).read == 8.0 * 32768);
  CHECK(op_traffic(cell(4, {{"backward", 1}})).written == 5.0 * 32768);
  // GRU forward: 19 FLOP; reads 3 + 3 + 1 E, writes h.
  CHECK(op_flops(cell(3)) == 19.0 * 16384);
  CHECK(op_traffic(cell(3)).read == 7.0 * 32768);
  CHECK(op_traffic(cell(3)).written == 32768.0);
  // GRU backward: 13 FLOP; reads dh, 4 saved values, h' (6 E), writes 3 + 3 + 1 E.
  CHECK(op_flops(cell(3, {{"backward", 1}})) == 13.0 * 16384);
  CHECK(op_traffic(cell(3, {{"backward", 1}})).written == 7.0 * 32768);

  Graph g;
  g.name = "g";
  g.add(cell(5));
  CHECK_THROWS_WITH(validate_graph(g, "src"),
                    "src: op 'cell' (rnn_cell): 'gates' = 5 must be 4 (LSTM) or 3 (GRU)");
  g.ops[0] = cell(4, {{"lib_launch", 2}});
  CHECK_THROWS_WITH(validate_graph(g, "src"), "src: op 'cell' (rnn_cell): 'lib_launch' = 2 must be 0 or 1");
}

TEST_CASE("cuDNN RNN: one host call, then kernels launched by cuDNN's loop", "[gpu][rnn][host]") {
  const Graph g = build_workload("lstm:batch=16,seq=32,input=1024,hidden=1024,layers=2");
  const auto hw = load_hardware("h100-sxm", {});
  const Program p = compile(g, *hw);
  // nn.LSTM's two torch.zeros (h_0, c_0) are aten fills (host_copy, 7.33 us each);
  // the call's first kernel pays an aten matmul's host path (host_matmul, 24.67
  // us); each later one a launch call (host_library_launch, 2 us).
  CHECK(hw->compute().host_time_s(p.kernels.at(0)) == Approx(7.33e-6));
  CHECK(hw->compute().host_time_s(p.kernels.at(1)) == Approx(7.33e-6));
  CHECK(hw->compute().host_time_s(p.kernels.at(2)) == Approx(24.67e-6));
  for (size_t i = 3; i < p.kernels.size(); ++i)
    REQUIRE(hw->compute().host_time_s(p.kernels[i]) == Approx(2e-6));
  // The host is busy 2 x 7.33 + 24.67 + 129 x 2 = 297.33 us, below the GPU's chain
  // of 129 kernels (a recurrent GEMM of 4 x 1024 gate columns and a cell per step,
  // each more than 2 us): the run is device-bound.
  const RunResult r = simulate(g, *hw);
  CHECK(r.stats.get("host.busy") == Approx(297.33e-6).epsilon(1e-9));
  CHECK(r.time_s > 400e-6);
  CHECK(r.time_s < 900e-6);
  // hidden 1024: cuDNN's standard algorithm, as timed. hidden <= 192: PyTorch picks
  // the persistent small-hidden kernel, which the mapping says is not what is timed.
  CHECK(p.kernels.at(4).mapping.find("persistent") == std::string::npos);
  const Program small =
      compile(build_workload("lstm:batch=4,seq=4,input=64,hidden=192,layers=1,algo=standard"), *hw);
  CHECK(small.kernels.at(4).mapping.find("CUDNN_RNN_ALGO_PERSIST_STATIC_SMALL_H") != std::string::npos);
  // A wrong launch cost breaks it: at 20 us per launch the host paces the run,
  // 2 x 7.33 + 24.67 + 129 x 20 = 2619.33 us.
  const auto slow = load_hardware("h100-sxm", {"compute.host_library_launch=20us"});
  CHECK(simulate(g, *slow).time_s == Approx(2619.33e-6).epsilon(0.01));
  // Every op its own aten call (the eager op-by-op listing this replaced) would
  // cost 130 host paths of 6-25 us: more than 1 ms.
  const auto eager = load_hardware("h100-sxm", {"compute.host_library_launch=6us"});
  CHECK(simulate(g, *eager).time_s > 770e-6);
}

TEST_CASE("cuDNN RNN: fp32 GEMMs follow torch.backends.cudnn.allow_tf32", "[gpu][rnn][tf32]") {
  const Graph g = build_workload("lstm:batch=16,seq=2,input=256,hidden=256,layers=1,dtype=fp32");
  const auto mapping = [&](const std::vector<std::string>& sets, size_t i) {
    const auto hw = load_hardware("h100-sxm", sets);
    return compile(g, *hw).kernels.at(i).mapping;
  };
  // cudnn_allow_tf32 defaults on (PyTorch's): CUDNN_DEFAULT_MATH, TF32 tensor cores.
  // (Kernels 0 and 1 are the h_0 / c_0 fills; 2 the input GEMM, 3 step 0's.)
  CHECK(mapping({}, 2).starts_with("tf32 (tf32 pipe)"));
  CHECK(mapping({}, 3).starts_with("tf32 (tf32 pipe)"));
  // Off: CUDNN_FMA_MATH, fp32 on the CUDA cores; the matmul switch does not apply.
  CHECK(mapping({"compute.cudnn_allow_tf32=false"}, 2).starts_with("fp32"));
  CHECK(mapping({"compute.cudnn_allow_tf32=false", "compute.matmul_allow_tf32=true"}, 2).starts_with("fp32"));
  // A plain fp32 GEMM (cuBLAS) keeps the matmul switch (off).
  const auto hw = load_hardware("h100-sxm", {});
  CHECK(compile(build_workload("gemm:m=256,n=256,k=256,dtype=fp32"), *hw)
            .kernels.at(0)
            .mapping.starts_with("fp32"));
}

TEST_CASE("cuDNN RNN training: BackwardData per step, BackwardWeights over all steps",
          "[gpu][rnn][training]") {
  const Graph g = build_workload("lstm:batch=2,seq=3,input=8,hidden=16,layers=1,train=1");
  std::vector<std::string> bwd;
  for (size_t i = static_cast<size_t>(g.info.at("ops_forward")); i < g.ops.size(); ++i)
    if (!g.ops[i].name.starts_with("adamw")) bwd.push_back(g.ops[i].name);
  // Per step backwards: the cell's backward, then the recurrent data gradient (none
  // for step 0: h_0 is the zero hx). The layer's input needs no gradient. Then the
  // weight gradients of the whole sequence: W_ih, b_ih, W_hh, b_hh. No gradient is
  // added by a kernel of its own (no _acc ops).
  CHECK(bwd == std::vector<std::string>{"l0.t2.cell.grad", "l0.t2.hidden_proj.grad_input", "l0.t1.cell.grad",
                                        "l0.t1.hidden_proj.grad_input", "l0.t0.cell.grad",
                                        "l0.input_proj.grad_weight", "l0.input_proj.grad_bias",
                                        "l0.t0.hidden_proj.grad_weight", "l0.t0.hidden_proj.grad_bias"});
  // dW_hh = dG^T h': m = hidden 16, n = 4 x 16 gate columns, k = seq x batch = 6.
  const Op& dw = find_op(g, "l0.t0.hidden_proj.grad_weight");
  CHECK(dw.at("m") == 16);
  CHECK(dw.at("n") == 64);
  CHECK(dw.at("k") == 6);
  // The cell of step 1 reads dh from the step-2 recurrent GEMM besides the output
  // gradient, and dc' from the step-2 cell.
  const Op& c1 = find_op(g, "l0.t1.cell.grad");
  CHECK(c1.at("backward") == 1);
  const auto idx = [&](const std::string& name) {
    return static_cast<int>(&find_op(g, name) - g.ops.data());
  };
  CHECK(std::find(c1.deps.begin(), c1.deps.end(), idx("l0.t2.hidden_proj.grad_input")) != c1.deps.end());
  CHECK(std::find(c1.deps.begin(), c1.deps.end(), idx("l0.t2.cell.grad")) != c1.deps.end());
  // The backward call's first kernel pays the host path; cuDNN launches the rest.
  CHECK(find_op(g, "l0.t2.cell.grad").get("lib_launch", 0) == 0);
  CHECK(find_op(g, "l0.t0.hidden_proj.grad_bias").get("lib_launch", 0) == 1);
  // The forward cells keep their activations (training=1); W_hh and b_hh are
  // trained once: 4 x 16 x (8 + 16) + 2 x 64 = 1664 parameters.
  CHECK(find_op(g, "l0.t1.cell").get("training", 0) == 1);
  CHECK(g.info.at("params_trained") == 1664.0);
}

TEST_CASE("rnn_cell emulates end to end: one rounding per step", "[gpu][rnn][numerics]") {
  const auto hw = load_hardware("h100-sxm", {});
  const auto err = [&](const std::string& dtype) {
    const Graph g = build_workload("lstm:batch=2,seq=4,input=32,hidden=32,layers=2,dtype=" + dtype);
    return propagate_error(g, *hw, {256, 1, "normal"})["output"]["normwise_rel_err"].get<double>();
  };
  // bf16 (8-bit significand, 2^-9 = 2e-3 per rounding) over 8 steps of two layers:
  // a few roundings' worth; TF32 GEMMs with fp32 cells (fp32 models) keep ~10 bits
  // of the products: below bf16's; a wrong (wider) accumulator would not show it.
  const double bf16 = err("bf16"), fp32 = err("fp32");
  CHECK(bf16 > 1e-3);
  CHECK(bf16 < 2e-2);
  CHECK(fp32 < bf16 / 4);
  CHECK(fp32 > 1e-5);
}

TEST_CASE("cuDNN RNN: a step's W_hh comes from the L2 the step before filled", "[gpu][rnn][l2]") {
  const auto hw = load_hardware("h100-sxm", {});
  const auto dram = [&](const std::string& spec, size_t i) {
    return compile(build_workload(spec), *hw).kernels.at(i).info.dram_bytes.value_or(-1);
  };
  // Kernels: 0, 1 the h_0 / c_0 fills, 2 input_proj, 3 t0.hidden_proj (reads the
  // zero hx: W_hh from DRAM), 4 t0.cell, 5 t1.hidden_proj. W_hh of 4 x 1024 gates x 1024 fp32 = 16777216 B
  // fits in half of the 50 MiB L2 with the step's other operands: step 1 reads it
  // from the L2, its DRAM traffic 16777216 B less.
  const std::string small = "lstm:batch=16,seq=2,input=1024,hidden=1024,layers=1,dtype=fp32";
  CHECK(dram(small, 3) - dram(small, 5) == Approx(16777216.0).epsilon(1e-9));
  // hidden 4096: W_hh is 4 x 4096 x 4096 x 4 B = 256 MiB, beyond the L2: every step
  // streams it from DRAM.
  const std::string big = "lstm:batch=16,seq=2,input=64,hidden=4096,layers=1,dtype=fp32";
  CHECK(dram(big, 3) == Approx(dram(big, 5)).epsilon(1e-12));
}

TEST_CASE("cuDNN RNN: PyTorch's persistent small-hidden algorithm for hidden <= 192",
          "[gpu][rnn][persistent]") {
  const auto hw = load_hardware("h100-sxm", {});
  // algo=auto follows get_algo's use_rnn_persist_small_h: hidden 192 is persistent,
  // 193 standard (after the h_0 and c_0 fills).
  CHECK(build_workload("lstm:hidden=192,input=64,seq=4,layers=1").ops.size() == 2 + 2);
  CHECK(build_workload("lstm:hidden=193,input=64,seq=4,layers=1").ops.size() == 2 + 1 + 2 * 4);
  // The recurrence kernel of 100 steps (batch 1, hidden 128): per step three
  // dependent round trips (the grid barrier's arrive and poll, the load of h) of
  // the H100's calibrated row_round_trip, 397.5 ns (configs/hw/h100-sxm.yaml), bound
  // it; the product (1 x 512 x 128 over 32 blocks) and the cell are well under
  // that. 100 x 3 x 397.5 ns = 119.25 us. (The op's time also holds the wait for
  // the host's first call, 24.67 us, and the launch.)
  const std::string spec = "lstm:batch=1,seq=100,input=128,hidden=128,layers=1";
  const auto kernel_s = [&](const Hardware& h) { return simulate(build_workload(spec), h).ops.at(3).time_s; };
  const double rec = kernel_s(*hw);
  CHECK(rec > 119.25e-6);
  CHECK(rec < 119.25e-6 + 24.67e-6 + 5e-6);
  // A wrong latency breaks it: row_round_trip = 918 ns adds 100 x 3 x 520.5 ns = 156.15 us.
  const auto slow = load_hardware("h100-sxm", {"compute.row_round_trip=918ns"});
  CHECK(kernel_s(*slow) - rec == Approx(156.15e-6).epsilon(0.001));
  // The standard algorithm for the same network: 100 GEMM and cell kernels, each at
  // least the 2 us queued gap: more than 400 us.
  CHECK(simulate(build_workload(spec + ",algo=standard"), *hw).time_s > 400e-6);
  // Training models the standard algorithm's backward: auto means standard there,
  // and an explicit persist_small_h is refused; so is a hidden size beyond the rule.
  const Graph trained = build_workload(spec + ",train=1");
  CHECK(trained.info.count("train_step") == 1);
  CHECK(std::none_of(trained.ops.begin(), trained.ops.end(),
                     [](const Op& op) { return op.get("rnn", 0) == 3; }));
  CHECK(std::count_if(trained.ops.begin(), trained.ops.end(),
                      [](const Op& op) { return op.get("rnn", 0) == 2; }) >= 100);
  CHECK_THROWS_WITH(
      build_workload(spec + ",algo=persist_small_h,train=1"),
      Catch::Contains("a training step models cuDNN's standard RNN algorithm; accepted with train=1: "
                      "auto, standard"));
  CHECK_THROWS_WITH(build_workload("lstm:hidden=256,algo=persist_small_h"),
                    Catch::Contains("algo=persist_small_h needs hidden <= 192"));
}
