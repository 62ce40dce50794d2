// Bounded cost: the inputs that once ran for minutes (a 2^28-cubed GEMM on
// tpu-v1, 2^28 and 2^47 trace matmuls, a 100000 x 100000 array on alexnet_part)
// and the largest accepted sizes each finish in under a second -- refused (exit
// 2 naming the limit) or simulated with finite figures. Exit 1 if one does not.
//   build/bench_huge_inputs
#include <fmt/format.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sim/cli/cli.h"

namespace {

struct Case {
  std::string name;
  std::vector<std::string> args;
};

std::string scratch(const std::string& name, const std::string& text) {
  const auto p = std::filesystem::temp_directory_path() / ("tessera_bench_" + name);
  std::ofstream(p) << text;
  return p.string();
}

std::string trace(long long s) {
  return fmt::format(R"({{"ops":[{{"name":"mm","kind":"matmul","attrs":{{"batch":1,"m":{0},"n":{0},"k":{0}}}}}]}})", s);
}

}  // namespace

int main() {
  const std::string cfg = scratch("huge.cfg",
                                  "[general]\nrun_name = huge\n[architecture_presets]\nArrayHeight: 100000\n"
                                  "ArrayWidth: 100000\nIfmapSramSzkB: 64\nFilterSramSzkB: 64\nOfmapSramSzkB: 64\n"
                                  "IfmapOffset: 0\nFilterOffset: 10000000\nOfmapOffset: 20000000\nDataflow: ws\n"
                                  "[run_presets]\nInterfaceBandwidth: CALC\n");
  const std::string alexnet = std::string(TESSERA_SHARED_DIR) + "/peer-data/scale-sim/topologies/conv_nets/alexnet_part.csv";
  const std::vector<Case> cases = {
      {"gemm 2^28 tpu-v1", {"run", "--hw", "tpu-v1", "--workload", "gemm:m=268435456,n=268435456,k=268435456"}},
      {"gemm 2^18 tpu-v1", {"run", "--hw", "tpu-v1", "--workload", "gemm:m=262144,n=262144,k=262144"}},
      {"gemm 1x2^28x2^28 tpu-v1", {"run", "--hw", "tpu-v1", "--workload", "gemm:m=1,n=268435456,k=268435456"}},
      {"gemm 2^18 h100", {"run", "--hw", "h100-sxm", "--workload", "gemm:m=262144,n=262144,k=262144"}},
      {"trace 2^28 h100 systemc", {"run", "--hw", "h100-sxm", "--engine", "systemc", "--workload", scratch("t28.json", trace(1LL << 28))}},
      {"trace 2^47 h100", {"run", "--hw", "h100-sxm", "--workload", scratch("t47.json", trace(1LL << 47))}},
      {"gemm 2^18 h100 systemc", {"run", "--hw", "h100-sxm", "--engine", "systemc", "--workload", "gemm:m=262144,n=262144,k=262144"}},
      {"100000^2 array alexnet_part", {"run", "--hw", cfg, "--workload", alexnet}},
      {"100000^2 array alexnet_part scalesim", {"run", "--hw", cfg, "--workload", alexnet, "--format", "scalesim", "--out", (std::filesystem::temp_directory_path() / "tessera_bench_scalesim").string()}},
  };
  int slow = 0;
  for (const auto& c : cases) {
    std::vector<std::string> args = c.args;
    args.insert(args.begin(), "tessera");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    std::ostringstream out, err;
    const auto t0 = std::chrono::steady_clock::now();
    const int rc = tessera::cli_main(static_cast<int>(argv.size()), argv.data(), out, err);
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string first = err.str().substr(0, 110);
    if (const auto nl = first.find('\n'); nl != std::string::npos) first.resize(nl);
    fmt::print("{:<38} rc {} {:7.3f} s  {}\n", c.name, rc, dt, first);
    if (dt >= 1.0 || (rc != 0 && rc != 2)) ++slow;
  }
  return slow ? 1 : 0;
}
