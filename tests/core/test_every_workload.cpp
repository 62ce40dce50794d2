#include <catch2/catch.hpp>

#include "models/hardware.h"
#include "sim/precision.h"
#include "sim/simulate.h"
#include "workloads/workloads.h"
#include "tests/support/engine_checks.h"

using namespace tessera;

namespace {

// Every built-in workload, each with parameters small enough for a test run.
const char* kSpecs[] = {
    "gemm:m=256,n=256,k=256",
    "conv2d:cin=64,cout=64,h=28",
    "conv2d:cin=32,cout=32,h=28,groups=depthwise,dilation=2,pad=2",
    "conv3d:cin=16,cout=32,d=8,h=14,stride_d=2,pad=1,pad_d=0",
    "attention:sq=256,heads=4,d=64,causal=1",
    "attention:sq=1,skv=512,heads=8,kv_heads=2,d=64",
    "attention:sq=128,heads=4,d=64,fused=0,bias=1",
    "layernorm:rows=256,cols=768",
    "rmsnorm:rows=256,cols=768",
    "softmax:rows=256,cols=512",
    "gelu:rows=256,cols=768",
    "add:rows=256,cols=768",
    "dropout:rows=256,cols=768",
    "resnet50:batch=1,image=64",
    "alexnet:batch=1",
    "vgg16:batch=1,image=224",
    "mobilenet_v2:batch=1,image=32",
    "r3d_18:batch=1,frames=8,image=32",
    "r2plus1d_18:batch=1,frames=4,image=32",
    "bert-base:batch=1,seq=64",
    "bert-large:batch=1,seq=32,layers=2",
    "gpt2-small:batch=1,seq=64",
    "gpt2-medium:batch=1,seq=32,layers=2",
    "gpt2-large:batch=1,seq=32,layers=2",
    "gpt2-xl:batch=1,seq=32,layers=2",
    "gpt3-175b:phase=decode,ctx=128,layers=1",
    "gpt:layers=2,hidden=256,heads=4,seq=64,vocab=1000",
    "llama-7b:phase=prefill,seq=64,layers=2",
    "llama-7b:phase=decode,ctx=256,layers=2,embed=0",
    "llama-70b:phase=decode,ctx=128,layers=1",
    "llama3-8b:phase=prefill,seq=64,layers=1,lm_head=1",
    "llama3-70b:phase=decode,ctx=128,layers=1",
    "llama:layers=1,hidden=512,heads=8,kv_heads=2,ffn=1024,seq=64",
    "transformer-base:batch=1,src=32,tgt=32",
    "moe:seq=64,d=512,heads=8,kv_heads=8,ffn=1024",
    "evoformer:n_seq=16,n_res=32",
    "lstm:batch=4,seq=8,input=256,hidden=256",
    "gru:batch=4,seq=8,input=256,hidden=256",
    // Collectives on one device: the GPU model's own ring formula (a system preset
    // plans them over its links: tests/interconnect).
    "allreduce:bytes=65536,ranks=8",
    "allgather:bytes=65536,ranks=8",
    "reducescatter:bytes=65536,ranks=8",
    "alltoall:bytes=65536,ranks=8",
    "broadcast:bytes=65536,ranks=8",
    "reduce_coll:bytes=65536,ranks=8",
    "sendrecv:bytes=65536",
    // Memory micro-workloads.
    "gather:table_bytes=1MiB,row_bytes=256,rows=512",
    "strided_read:bytes=1MiB,stride=16",
    "read_repeat:working_set=1MiB,repeats=3",
};

}  // namespace

TEST_CASE("every built-in workload runs on both presets and both engines", "[workloads][e2e]") {
  // Each spec above must name a different built-in model, and together they must
  // cover the whole table (a new workload without a case here fails the test).
  std::set<std::string> covered;
  for (const char* spec : kSpecs) covered.insert(std::string(spec).substr(0, std::string(spec).find(':')));
  for (const auto& w : builtin_workloads()) {
    INFO(w.name);
    CHECK(covered.count(w.name) == 1);
  }
  for (const char* hw_name : {"h100-sxm", "tpu-v1"}) {
    // tpu-v1's PEs run int8 only (compute.formats); these workloads are bf16, so the
    // array is modelled with PEs of any format.
    auto hw = load_hardware(hw_name, std::string(hw_name) == "tpu-v1" ? std::vector<std::string>{"compute.formats=any"}
                                                                       : std::vector<std::string>{});
    for (const char* spec : kSpecs) {
      INFO(hw_name << " " << spec);
      // The engines agree on every model, not only on the gemm slice.
      testing::check_both_engines(build_workload(spec), *hw);
    }
  }
}

TEST_CASE("every built-in workload has a precision report", "[workloads][precision]") {
  auto hw = load_hardware("h100-sxm", {});
  for (const char* spec : kSpecs) {
    INFO(spec);
    const Graph g = build_workload(spec);
    const auto p = precision_report(g, *hw, {16, 1, "normal"});
    REQUIRE(p["ops"].size() == g.ops.size());
    for (const auto& op : p["ops"]) {
      // bf16 outputs: at least the output rounding error (> 0) and far below 1.
      CHECK(op["normwise_rel_err"].get<double>() >= 0);
      CHECK(op["normwise_rel_err"].get<double>() < 0.1);
      CHECK(op["nan"] == 0);
    }
  }
}
