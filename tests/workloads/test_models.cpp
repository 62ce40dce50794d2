// Built-in models: structure (kernel by kernel) and FLOPs against hand derivations.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "core/error.h"
#include "tests/support/graph_ops.h"
#include "workloads/workloads.h"

using namespace tessera;

namespace {

// Sum of measure(op) over the ops that satisfy pred.
template <class Pred>
double sum_where(const Graph& g, Pred pred, double (*measure)(const Op&)) {
  double s = 0;
  for (const auto& op : g.ops)
    if (pred(op)) s += measure(op);
  return s;
}

template <class Pred>
double flops_where(const Graph& g, Pred pred) {
  return sum_where(g, pred, op_flops);
}

template <class Pred>
double bytes_where(const Graph& g, Pred pred) {
  return sum_where(g, pred, op_min_bytes);
}

double flops_prefix(const Graph& g, const std::string& prefix) {
  double f = 0;
  for (const auto& op : g.ops)
    if (op.name.rfind(prefix, 0) == 0) f += op_flops(op);
  return f;
}

int count_kind(const Graph& g, OpKind k) {
  return static_cast<int>(std::count_if(g.ops.begin(), g.ops.end(),
                                        [&](const Op& op) { return op.kind == k; }));
}

using testing::find_op;

std::vector<std::string> names_with_prefix(const Graph& g, const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& op : g.ops)
    if (op.name.rfind(prefix, 0) == 0) out.push_back(op.name.substr(prefix.size()));
  return out;
}

}  // namespace

TEST_CASE("every built-in workload builds with its defaults and validates", "[models]") {
  for (const auto& w : builtin_workloads()) {
    bool required = false;
    for (const auto& p : w.params) required = required || p.default_value.empty();
    OpKind kind = OpKind::matmul;
    const bool collective = parse_op_kind(w.name, kind) && is_collective_kind(kind);
    // Memory micro-workloads take sizes in bytes.
    const std::map<std::string, std::string> memory = {
        {"gather", "gather:table_bytes=4096,row_bytes=64,rows=8"},
        {"strided_read", "strided_read:bytes=4096,stride=4"},
        {"read_repeat", "read_repeat:working_set=4096"}};
    const std::string spec = memory.count(w.name) ? memory.at(w.name)
                             : w.name == "gemm"   ? "gemm:m=64,n=64,k=64"
                             : w.name == "conv2d" ? "conv2d:cin=8,cout=8,h=16"
                             : w.name == "conv3d" ? "conv3d:cin=8,cout=8,h=16"
                             : w.name == "gpt"    ? "gpt:layers=1,hidden=64,heads=2"
                             : w.name == "llama"  ? "llama:layers=1,hidden=64,heads=2,ffn=128"
                             : collective         ? w.name + ":bytes=1024"
                             : required           ? w.name + ":rows=4,cols=8"
                                                  : w.name;
    INFO(spec);
    Graph g = build_workload(spec);
    CHECK(!g.ops.empty());
    // Collectives that only move data (all-gather, all-to-all, broadcast, send/recv) do no arithmetic.
    // A gather (index_select) only moves data too.
    if (!collective && w.name != "gather") CHECK(g.total_flops() > 0);
    std::set<std::string> names;
    for (const auto& op : g.ops) names.insert(op.name);
    CHECK(names.size() == g.ops.size());  // op names are unique
  }
}

TEST_CASE("specs used by the GPU compare tool resolve", "[models]") {
  for (const char* spec : {"resnet50", "bert-base", "gpt2-small", "llama-7b:layers=4,phase=prefill",
                           "llama-7b:phase=decode,embed=0", "evoformer:c_m=256,c_z=128",
                           "attention:batch=4,heads=32,sq=4096,skv=4096,d=64,causal=1,path=sdpa_math,dtype=bf16"}) {
    INFO(spec);
    CHECK_NOTHROW(build_workload(spec));
  }
}

TEST_CASE("attention path=sdpa_math: the kernels of PyTorch's math backend", "[models][flops]") {
  // batch 2, heads 4 (bh = 8), L = S = 16, d = 8, causal, bf16 inputs (chain in fp32).
  // q/k/v to fp32: 8*16*8 = 1024 elems, 2 + 4 bytes each = 6144 bytes (x3)
  // q_scale, k_scale (mul, fp32): 1024 * (4 + 4) = 8192 bytes, 1024 FLOP each
  // mask_ones, mask_tril (bool 16x16 = 256): 512 bytes each; mask_where bool -> fp32: 256 + 1024
  // qk (fp32, batch 8, 16x16x8): 2*8*16*16*8 = 32768 FLOP, 4*(1024 + 1024 + 2048) = 16384 bytes
  // mask_add (scores 8*16*16 = 2048 elems, mask re-read): 4*(2*2048 + 2048) = 24576, 2048 FLOP
  // softmax: 4*(2048 + 2048) = 16384 bytes, 5*2048 = 10240 FLOP
  // _safe_softmax's -inf and 0 constants: a one-element fp32 fill each, counted as
  // a copy: 4 + 4 = 8 bytes each
  // isneginf fp32 -> bool: 8192 + 2048 = 10240; all_rows bool: 2048 + 2048 = 4096
  // where (mul, one full input): 16384 bytes, 2048 FLOP
  // pv (fp32, batch 8, 16x8x16): 32768 FLOP, 4*(2048 + 1024 + 1024) = 16384 bytes
  // weights to bf16: 2048 * (4 + 2) = 12288; output to bf16: 1024 * (4 + 2) = 6144
  // FLOP: 1024 + 1024 + 32768 + 2048 + 10240 + 2048 + 32768 = 81920
  // bytes: 3*6144 + 2*8192 + 512 + 512 + 1280 + 16384 + 24576 + 16384 + 2*8 + 10240
  //        + 4096 + 16384 + 16384 + 12288 + 6144 = 160016
  const Graph g = build_workload("attention:batch=2,heads=4,sq=16,d=8,causal=1,path=sdpa_math,dtype=bf16");
  std::vector<std::string> names;
  for (const auto& op : g.ops) names.push_back(op.name);
  CHECK(names == std::vector<std::string>{"attention.q_to_fp32", "attention.k_to_fp32", "attention.v_to_fp32",
                                          "attention.q_scale", "attention.mask_ones", "attention.mask_tril",
                                          "attention.mask_where", "attention.k_scale", "attention.qk",
                                          "attention.mask_add", "attention.softmax", "attention.fill_neg_inf",
                                          "attention.isneginf", "attention.all_rows", "attention.fill_zero",
                                          "attention.where", "attention.pv", "attention.weights_to_input",
                                          "attention.out_to_input"});
  CHECK(g.ops[8].dtype == DType::fp32);
  CHECK(g.ops[16].dtype == DType::fp32);
  CHECK(g.ops.back().out_dtype == DType::bf16);
  CHECK(g.total_flops() == Approx(81920.0));
  double bytes = 0;
  for (const auto& op : g.ops) bytes += op_min_bytes(op);
  CHECK(bytes == Approx(160016.0));
  // fp32 inputs, no mask: no casts, no mask kernels.
  const Graph f = build_workload("attention:batch=2,heads=4,sq=16,d=8,path=sdpa_math,dtype=fp32");
  // q_scale k_scale qk softmax fill_neg_inf isneginf all_rows fill_zero where pv
  CHECK(f.ops.size() == 10);
  CHECK(f.ops.front().name == "attention.q_scale");
  CHECK(f.ops.back().name == "attention.pv");
  // q, k, v as head views of one packed projection (qkv_packed), fp32: matmul's
  // reshape copies the scaled q and k and v (1024 elements each, 8192 bytes), and
  // the output is copied back to rows: 4 more copies, 4 * 8192 = 32768 bytes.
  const Graph pf =
      build_workload("attention:batch=2,heads=4,sq=16,d=8,path=sdpa_math,dtype=fp32,qkv_packed=1");
  std::vector<std::string> pnames;
  for (const auto& op : pf.ops) pnames.push_back(op.name);
  CHECK(pnames == std::vector<std::string>{"attention.q_scale", "attention.k_scale", "attention.q_reshape",
                                           "attention.k_reshape", "attention.qk", "attention.softmax",
                                           "attention.fill_neg_inf", "attention.isneginf",
                                           "attention.all_rows", "attention.fill_zero", "attention.where",
                                           "attention.v_reshape", "attention.pv", "attention.out_to_rows"});
  double fb = 0, pb = 0;
  for (const auto& op : f.ops) fb += op_min_bytes(op);
  for (const auto& op : pf.ops) pb += op_min_bytes(op);
  CHECK(pb - fb == Approx(32768.0));
  // bf16: .to(kFloat) keeps the views' [B, S, h, d] order (infer_dense_strides),
  // so the same three reshape copies, in fp32 (3 * 8192 bytes), and the output
  // copy back to rows in bf16 (1024 * 4 bytes).
  const Graph pb16 = build_workload(
      "attention:batch=2,heads=4,sq=16,d=8,causal=1,path=sdpa_math,dtype=bf16,"
      "qkv_packed=1");
  CHECK(pb16.ops.size() == g.ops.size() + 4);
  CHECK(pb16.ops.back().name == "attention.out_to_rows");
  CHECK(op_min_bytes(pb16.ops.back()) == Approx(4096.0));
  double b16 = 0, pb16_bytes = 0;
  for (const auto& op : g.ops) b16 += op_min_bytes(op);
  for (const auto& op : pb16.ops) pb16_bytes += op_min_bytes(op);
  CHECK(pb16_bytes - b16 == Approx(3 * 8192.0 + 4096.0));
  CHECK_THROWS_AS(build_workload("attention:path=fast"), InputError);
  // The mask's attributes without a mask are refused, naming the parameter.
  for (const char* key : {"bias_shared", "bias_strided"}) {
    try {
      build_workload(std::string("attention:batch=2,heads=4,sq=16,d=8,") + key + "=1");
      FAIL("accepted " << key << " without bias=1");
    } catch (const InputError& e) {
      CHECK(std::string(e.what()) == "--workload 'attention:batch=2,heads=4,sq=16,d=8," + std::string(key) +
                                         "=1': workload parameter '" + key +
                                         "': describes the attn_mask, so it needs bias=1");
    }
  }
}

TEST_CASE("ResNet-50 at 224x224: 4.09 GMAC per image in conv + fc", "[models][flops]") {
  // torchvision's count (MACs of convolutions and the fc layer), v1.5 strides:
  //   conv1  112*112 * 64 * 3*7*7                                   =   118,013,952
  //   layer1 (56x56, 3 blocks, width 64, in 64/256)                 =   667,942,912
  //     block0: 1x1 64->64 (12,845,056) + 3x3 64->64 (115,605,504)
  //             + 1x1 64->256 (51,380,224) + downsample 64->256 (51,380,224)
  //     blocks1,2: 1x1 256->64 (51,380,224) + 3x3 (115,605,504) + 1x1 64->256 (51,380,224)
  //   layer2 (28x28, 4 blocks, width 128)                           = 1,027,604,480
  //   layer3 (14x14, 6 blocks, width 256)                           = 1,464,336,384
  //   layer4 (7x7, 3 blocks, width 512)                             =   809,238,528
  //   fc     2048 * 1000                                            =     2,048,000
  //   total                                                         = 4,089,184,256
  Graph g = build_workload("resnet50:batch=1,image=224");
  const double macs = flops_where(g, [](const Op& op) {
                        return op.kind == OpKind::conv2d || op.kind == OpKind::matmul;
                      }) / 2;
  CHECK(macs == 4089184256.0);
  CHECK(flops_prefix(g, "conv1") / 2 == 118013952.0);
  CHECK(flops_prefix(g, "layer1.") / 2 == Approx(667942912.0 ).epsilon(0.02));  // + bn/relu/add
  // Kernel counts: 53 convs (1 stem + 16 blocks * 3 + 4 downsample), 53 batch-norms,
  // 49 relus (stem + 3 per block), 16 residual adds, 1 max pool, 1 avg pool, 1 fc.
  CHECK(count_kind(g, OpKind::conv2d) == 53);
  CHECK(count_kind(g, OpKind::batchnorm) == 53);
  CHECK(count_kind(g, OpKind::relu) == 49);
  CHECK(count_kind(g, OpKind::add) == 16);
  CHECK(count_kind(g, OpKind::maxpool) == 1);
  CHECK(count_kind(g, OpKind::avgpool) == 1);
  CHECK(count_kind(g, OpKind::matmul) == 1);
  CHECK(g.ops.size() == 53 + 53 + 49 + 16 + 3);
  // Parameters: 25,557,032 (torchvision's figure) = conv + fc weights + fc bias + BN affine.
  CHECK(g.info.at("params") == 25557032.0);
  // Batch scales linearly.
  Graph g8 = build_workload("resnet50:batch=8");
  CHECK(g8.total_flops() == Approx(8 * g.total_flops()));
}

TEST_CASE("AlexNet and VGG-16 match torchvision's counts", "[models][flops]") {
  // torchvision: AlexNet 0.71 GFLOPS (MACs), 61,100,840 parameters;
  // VGG-16 15.47 GFLOPS (MACs), 138,357,544 parameters.
  Graph a = build_workload("alexnet");
  const double a_macs = flops_where(a, [](const Op& op) {
                          return op.kind == OpKind::conv2d || op.kind == OpKind::matmul;
                        }) / 2;
  CHECK(a_macs == Approx(0.714e9).epsilon(0.005));
  CHECK(a.info.at("params") == 61100840.0);
  Graph v = build_workload("vgg16");
  const double v_macs = flops_where(v, [](const Op& op) {
                          return op.kind == OpKind::conv2d || op.kind == OpKind::matmul;
                        }) / 2;
  CHECK(v_macs == Approx(15.47e9).epsilon(0.005));
  CHECK(v.info.at("params") == 138357544.0);
  CHECK(count_kind(v, OpKind::conv2d) == 13);
  CHECK(count_kind(v, OpKind::maxpool) == 5);
}

TEST_CASE("BERT-base at seq 128: 22.35 GFLOP per sequence in its matrix products", "[models][flops]") {
  // Per sequence (batch 1, 128 tokens), counting every matrix product of the encoder
  // (a multiply-add = 2 FLOPs):
  //   linears: 12 layers * 128 tokens * (Q,K,V,O: 4*768^2 + FFN: 2*768*3072 = 12*768^2)
  //            * 2 = 12 * 128 * 7,077,888 * 2       = 21,743,271,936
  //   attention Q.K^T and P.V: 12 layers * 2 * 128^2 * 768 * 2 = 603,979,776
  //   total                                          = 22,347,251,712 (22.35 GFLOP)
  // The pooler (768 x 768 on the first token) adds 1,179,648 more.
  Graph g = build_workload("bert-base:batch=1,seq=128");
  const double encoder = flops_where(g, [](const Op& op) {
    return (op.kind == OpKind::matmul || op.kind == OpKind::attention) &&
           op.name.rfind("pooler", 0) != 0;
  });
  CHECK(encoder == 22347251712.0);
  CHECK(flops_prefix(g, "pooler.dense") == 1179648.0);
  // Kernel sequence of one layer, as HF BertLayer launches it (sdpa path).
  CHECK(names_with_prefix(g, "l3.") ==
        std::vector<std::string>{"attn.query", "attn.key", "attn.value", "attn.sdpa",
                                 "attn.output.dense", "attn.output.add",
                                 "attn.output.layernorm", "intermediate.dense",
                                 "intermediate.gelu", "output.dense", "output.add",
                                 "output.layernorm"});
  CHECK(g.info.at("params") == 109482240.0);  // HF bert-base-uncased BertModel
  // Unfused (eager) attention: Q.K^T, scale, softmax, P.V per layer.
  Graph eager = build_workload("bert-base:attn=eager");
  CHECK(names_with_prefix(eager, "l0.attn.sdpa") ==
        std::vector<std::string>{".qk", ".scale", ".softmax", ".pv"});
  const Op& qk = find_op(eager, "l0.attn.sdpa.qk");
  CHECK(qk.at("batch") == 12);
  CHECK(qk.at("m") == 128);
  CHECK(qk.at("k") == 64);
}

TEST_CASE("LLaMA-7B prefill: 2 * 6.48e9 * tokens plus causal attention", "[models][flops]") {
  // Per layer: q,k,v,o 4 * 4096^2 = 67,108,864 and SwiGLU 3 * 4096 * 11008 = 135,266,304
  // weights -> 202,375,168; 32 layers -> 6,476,005,376 (LlamaModel has no LM head and
  // the embedding is a gather). Linear FLOPs = 2 * 6,476,005,376 * tokens.
  // Causal attention per layer: 4 * batch * 32 heads * S^2 * 128 / 2 = 2 * S^2 * 4096.
  const double tokens = 2 * 512;
  Graph g = build_workload("llama-7b:batch=2,seq=512");
  const auto rotary = [](const Op& op) { return op.name.rfind("rotary.", 0) == 0; };
  const double linear =
      flops_where(g, [&](const Op& op) { return op.kind == OpKind::matmul && !rotary(op); });
  const double attn = flops_where(g, [](const Op& op) { return op.kind == OpKind::attention; });
  CHECK(linear == 2.0 * 6476005376.0 * tokens);
  // LlamaRotaryEmbedding's cos/sin tables, once per forward: inv_freq [2, 64, 1] x
  // positions [2, 1, 512] in fp32 = 2 * 2 * 64 * 512 FLOP, then cat, cos, sin, the
  // attention_scaling products and the casts: 10 kernels.
  CHECK(flops_where(g, [&](const Op& op) { return op.kind == OpKind::matmul && rotary(op); }) ==
        2.0 * 2 * 64 * 512);
  CHECK(names_with_prefix(g, "rotary.") ==
        std::vector<std::string>{"inv_freq_float", "position_ids_float", "freqs", "cat", "cos",
                                 "cos_scaling", "cos_to_dtype", "sin", "sin_scaling", "sin_to_dtype"});
  CHECK(attn == 32.0 * 2 * (2.0 * 512 * 512 * 4096));
  CHECK(g.info.at("params_per_layer") == 202375168.0 + 2 * 4096);
  // HF counts 6,738,415,616 with the LM head (32000 * 4096 = 131,072,000); LlamaModel
  // without it: 6,607,343,616.
  CHECK(g.info.at("params") == 6607343616.0);
  // One layer, kernel by kernel (HF LlamaDecoderLayer; rotary as elementwise kernels;
  // LlamaRMSNorm as its eight PyTorch operations).
  CHECK(names_with_prefix(g, "l0.input_norm") ==
        std::vector<std::string>{".to_fp32", ".pow", ".mean", ".add_eps", ".rsqrt", ".mul_rsqrt",
                                 ".to_input_dtype", ".mul_weight"});
  // The norm's traffic in bf16 at 1024 tokens x 4096: cast up 2+4 B, pow 4+4, mean 4
  // (+ 4 B per row), the rows x 1 add and rsqrt 4+4 B per row each, broadcast
  // multiply 4+4 (+4 per row), cast down 4+2, weight multiply 2+2 = 36 B per element
  // and 20 B per row.
  const double norm_bytes = bytes_where(g, [](const Op& op) { return op.name.rfind("l0.input_norm", 0) == 0; });
  CHECK(norm_bytes == 36.0 * 1024 * 4096 + 20.0 * 1024);
  // kernels=fused: one rmsnorm kernel, no rotary table kernels.
  Graph f = build_workload("llama-7b:batch=2,seq=512,kernels=fused");
  CHECK(names_with_prefix(f, "rotary.").empty());
  CHECK(names_with_prefix(f, "l0.") ==
        std::vector<std::string>{
            "input_norm", "attn.q_proj", "attn.k_proj", "attn.v_proj",
            "attn.rope_q.mul_cos", "attn.rope_q.neg", "attn.rope_q.cat", "attn.rope_q.mul_sin",
            "attn.rope_q.add", "attn.rope_k.mul_cos", "attn.rope_k.neg", "attn.rope_k.cat",
            "attn.rope_k.mul_sin", "attn.rope_k.add", "attn.sdpa", "attn.o_proj", "attn.add",
            "post_attention_norm", "mlp.gate_proj", "mlp.silu", "mlp.up_proj", "mlp.mul",
            "mlp.down_proj", "mlp.add"});
  CHECK(find_op(g, "l0.attn.sdpa").at("causal") == 1);
  CHECK(f.ops.size() + 10 + 7 * (2 * 32 + 1) == g.ops.size());   // tables; 7 more per norm (65)
  // layers=4 builds four layers.
  Graph g4 = build_workload("llama-7b:layers=4,phase=prefill");
  CHECK(g4.info.at("layers") == 4);
  CHECK(count_kind(g4, OpKind::attention) == 4);
}

TEST_CASE("LLaMA decode: one token per sequence against the KV cache", "[models]") {
  // kv_cache=dynamic (HF DynamicCache): torch.cat of cache and new token per layer.
  Graph g = build_workload("llama-7b:phase=decode,ctx=1024,batch=4,embed=0,kv_cache=dynamic");
  CHECK(g.info.at("tokens") == 4);
  CHECK(count_kind(g, OpKind::embedding) == 0);
  CHECK(count_kind(g, OpKind::kv_read) == 32);
  const Op& cat = find_op(g, "l5.attn.kv_cat");
  CHECK(cat.at("tokens") == 1024);
  CHECK(cat.at("append") == 1);
  const Op& at = find_op(g, "l5.attn.sdpa");
  CHECK(at.at("sq") == 1);
  CHECK(at.at("skv") == 1025);
  CHECK(at.at("causal") == 0);
  CHECK(find_op(g, "l0.attn.q_proj").at("m") == 4);
  // Decode linears: 2 * 6,476,005,376 per token (the rotary table product aside).
  CHECK(flops_where(g, [](const Op& op) { return op.kind == OpKind::matmul && op.name.rfind("rotary.", 0) != 0; }) ==
        2.0 * 6476005376.0 * 4);
  // Static cache: index_copy_ of the new token (kv_write), no concatenation.
  Graph s = build_workload("llama-7b:phase=decode,ctx=1024,kv_cache=static,layers=2");
  CHECK(count_kind(s, OpKind::kv_write) == 2);
  CHECK(count_kind(s, OpKind::kv_read) == 0);
  CHECK(find_op(s, "l1.attn.kv_write").at("tokens") == 1);
  // Static is the decode default; index_copy_ of K and of V: two launches.
  Graph d = build_workload("llama-7b:phase=decode,ctx=1024,layers=2");
  CHECK(count_kind(d, OpKind::kv_write) == 2);
  CHECK(find_op(d, "l1.attn.kv_write").at("launches") == 2);
  // Prefill's default (auto) writes no cache: HF's forward without a cache.
  CHECK(count_kind(build_workload("llama-7b:phase=prefill,seq=64,layers=2"), OpKind::kv_write) == 0);
}

TEST_CASE("decode_static.py: fused projections, static cache, nn.RMSNorm, no rotary", "[models]") {
  // The reference's layer (shared/reference/models/decode_static.py): rms_norm,
  // wqkv, index_copy_ (K, V: one op of two launches), SDPA, wo, add, rms_norm, w13,
  // silu, mul, w2, add = 12 ops (13 kernels) per layer.
  Graph g = build_workload("llama-7b:phase=decode,batch=2,ctx=512,layers=32,embed=0,kv_cache=static,"
                           "fused_qkv=1,fused_gate_up=1,rope=0,kernels=fused");
  CHECK(g.ops.size() == 32 * 12);
  const Op& qkv = find_op(g, "l3.attn.qkv_proj");
  CHECK(qkv.at("m") == 2);
  CHECK(qkv.at("n") == 3 * 4096);   // q, k, v of 32 heads x 128
  CHECK(qkv.at("k") == 4096);
  const Op& gu = find_op(g, "l3.mlp.gate_up_proj");
  CHECK(gu.at("n") == 2 * 11008);
  CHECK(find_op(g, "l3.attn.sdpa").at("skv") == 513);
  CHECK(count_kind(g, OpKind::rmsnorm) == 64);
  // Same weights as the separate projections: the linears' FLOPs match.
  const auto linear_flops = [](const Graph& x) {
    double f = 0;
    for (const Op& op : x.ops)
      if (op.kind == OpKind::matmul) f += op_flops(op);
    return f;
  };
  CHECK(linear_flops(g) == linear_flops(build_workload("llama-7b:phase=decode,batch=2,ctx=512,layers=32,embed=0,"
                                                       "rope=0,kernels=fused")));
  CHECK_THROWS_WITH(build_workload("gpt2-small:fused_gate_up=1"),
                    "--workload 'gpt2-small:fused_gate_up=1': workload parameter 'fused_gate_up': gpt2-small "
                    "has no gated MLP (gate and up projections exist in SwiGLU decoders only)");
}

TEST_CASE("LLaMA-70B uses grouped-query attention", "[models]") {
  Graph g = build_workload("llama-70b:layers=2,seq=128");
  const Op& at = find_op(g, "l0.attn.sdpa");
  CHECK(at.at("heads") == 64);
  CHECK(at.at("kv_heads") == 8);
  CHECK(at.at("d") == 128);
  CHECK(find_op(g, "l0.attn.k_proj").at("n") == 1024);  // 8 KV heads * 128
  CHECK(find_op(g, "l0.mlp.gate_proj").at("n") == 28672);
  // Per layer: 8192*(8192 + 2*1024) + 8192^2 + 3*8192*28672 + 2*8192 norm weights.
  CHECK(g.info.at("params_per_layer") == 8192.0 * (8192 + 2048) + 8192.0 * 8192 +
                                             3.0 * 8192 * 28672 + 2 * 8192);
  // Eager GQA expands K and V to all heads (repeat_kv) before Q.K^T.
  Graph e = build_workload("llama-70b:layers=1,seq=16,attn=eager");
  CHECK(names_with_prefix(e, "l0.attn.sdpa") ==
        std::vector<std::string>{".repeat_k", ".repeat_v", ".qk", ".scale", ".bias", ".softmax",
                                 ".pv"});
}

TEST_CASE("GPT-2 and GPT-3 shapes", "[models]") {
  Graph g = build_workload("gpt2-small:seq=1024");
  CHECK(g.info.at("params") == 124439808.0);  // HF GPT2Model (gpt2)
  CHECK(find_op(g, "l0.attn.c_attn").at("n") == 3 * 768);
  CHECK(names_with_prefix(build_workload("gpt2-small:seq=1024,kernels=fused"), "l11.") ==
        std::vector<std::string>{"ln_1", "attn.c_attn", "attn.sdpa", "attn.c_proj", "attn.add",
                                 "ln_2", "mlp.c_fc", "mlp.gelu", "mlp.c_proj", "mlp.add"});
  // Eager (default): HF's NewGELUActivation, 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3))),
  // one kernel per operation.
  CHECK(names_with_prefix(g, "l11.mlp.gelu_new") ==
        std::vector<std::string>{".mul_half", ".pow3", ".mul_coef", ".add_x", ".mul_sqrt_2_pi", ".tanh",
                                 ".add_one", ".mul"});
  CHECK(build_workload("gpt2-xl").info.at("params") == 1557611200.0);
  CHECK_THROWS_WITH(build_workload("gpt2-small:seq=2048"),
                    Catch::Contains("gpt2-small has 1024 learned positions"));
  Graph g3 = build_workload("gpt3-175b:layers=1,seq=2048");
  CHECK(find_op(g3, "l0.attn.sdpa").at("heads") == 96);
  // 96 layers of 12 * 12288^2 weights (+ biases, norms) ~ 174.6e9, plus embeddings.
  Graph full = build_workload("gpt3-175b:seq=8");
  CHECK(full.info.at("params") == Approx(175e9).epsilon(0.01));
}

TEST_CASE("transformer-base: encoder, decoder with cross-attention", "[models]") {
  Graph g = build_workload("transformer-base:src=32,tgt=16");
  CHECK(count_kind(g, OpKind::attention) == 6 + 12);
  const Op& ca = find_op(g, "dec.l5.cross_attn.sdpa");
  CHECK(ca.at("sq") == 16);
  CHECK(ca.at("skv") == 32);
  CHECK(find_op(g, "dec.l0.self_attn.sdpa").at("causal") == 1);
  CHECK(find_op(g, "dec.l0.cross_attn.kv_proj").at("m") == 32);
  // Sequence-first nn.MultiheadAttention runs F.multi_head_attention_forward: per
  // attention a copy of the packed projection's heads (32 x 1536 for q|k|v, 32 x
  // 1024 for the encoder output's k|v) and one of the permuted output (tokens x 512)
  // before out_proj: 2 x 18 copies.
  CHECK(count_kind(g, OpKind::copy) == 2 * 18);
  const Op& heads = find_op(g, "enc.l0.self_attn.in_proj.contiguous");
  CHECK((heads.at("rows") == 32 && heads.at("cols") == 1536));
  CHECK(find_op(g, "dec.l0.cross_attn.kv_proj.contiguous").at("cols") == 1024);
  CHECK(find_op(g, "dec.l0.cross_attn.out.contiguous").at("rows") == 16);
  CHECK(
      find_op(g, "dec.l0.cross_attn.sdpa").deps ==
      std::vector<int>{static_cast<int>(&find_op(g, "dec.l0.cross_attn.q_proj") - g.ops.data()),
                       static_cast<int>(&find_op(g, "dec.l0.cross_attn.kv_proj.contiguous") - g.ops.data())});
  // Tensor parallelism splits the copies with the heads: tp = 2 halves their columns.
  const Graph tp = build_workload("transformer-base:src=32,tgt=16,tp=2");
  CHECK(find_op(tp, "enc.l0.self_attn.in_proj.contiguous").at("cols") == 768);
  CHECK(find_op(tp, "enc.l0.self_attn.out.contiguous").at("cols") == 256);
  CHECK(find_op(tp, "dec.l0.cross_attn.kv_proj.contiguous").at("cols") == 512);
  // Vaswani et al. report 65M parameters for the base model.
  CHECK(g.info.at("params") == Approx(65e6).epsilon(0.05));
}

TEST_CASE("moe reports active and total parameters", "[models]") {
  Graph g = build_workload("moe:seq=64");
  // Mixtral-8x7B layer: attention 4096*(4096 + 2*1024) + 4096^2 = 41,943,040;
  // expert 3 * 4096 * 14336 = 176,160,768; router 4096 * 8; norms 2 * 4096.
  const double base = 41943040.0 + 32768 + 8192;
  CHECK(g.info.at("params_total") == base + 8 * 176160768.0);
  CHECK(g.info.at("params_active") == base + 2 * 176160768.0);
  // Balanced routing: 64 tokens * top-2 / 8 experts = 16 tokens per expert.
  CHECK(find_op(g, "l0.moe.e3.w1").at("m") == 16);
  CHECK(count_kind(g, OpKind::matmul) == 4 + 1 + 8 * 3);
}

TEST_CASE("lstm: cuDNN structure", "[models]") {
  Graph g = build_workload("lstm:batch=4,seq=3,input=8,hidden=16,layers=2,algo=standard");
  // Per layer: 1 input GEMM + 3 recurrent GEMMs (step 0's multiplies the zero h_0
  // PyTorch passes as hx) and 3 fused cells.
  CHECK(count_kind(g, OpKind::matmul) == 2 * 4);
  CHECK(count_kind(g, OpKind::rnn_cell) == 2 * 3);
  // Called without hx, nn.LSTM fills h_0 and c_0 first ([layers, batch, hidden] =
  // 2 x 4 x 16: rows 8, cols 16), one kernel each, before the cuDNN call.
  CHECK(g.ops.size() == 2 + 2 * (1 + 2 * 3));
  CHECK((g.ops[0].name == "h0" && g.ops[1].name == "c0" && g.ops[0].kind == OpKind::copy));
  CHECK((g.ops[0].at("rows") == 8 && g.ops[0].at("cols") == 16 && g.ops[0].deps.empty()));
  const Op& in = find_op(g, "l0.input_proj");
  CHECK(in.at("m") == 12);
  CHECK(in.at("n") == 64);
  CHECK(in.at("k") == 8);
  CHECK(find_op(g, "l1.input_proj").at("k") == 16);
  const Op& cell = find_op(g, "l0.t1.cell");
  CHECK(cell.at("rows") == 4);
  CHECK(cell.at("cols") == 16);
  CHECK(cell.at("gates") == 4);
  // x_proj, the step's recurrent GEMM and the cell before it.
  CHECK(cell.deps == std::vector<int>{2, 5, 4});
  // One _cudnn_rnn call: its first kernel pays the host path, cuDNN's loop launches
  // every other one; the GEMMs follow torch.backends.cudnn.allow_tf32.
  int lib = 0;
  for (const Op& op : g.ops) {
    lib += op.get("lib_launch", 0);
    if (op.kind == OpKind::matmul) CHECK(op.get("cudnn", 0) == 1);
  }
  CHECK(in.get("lib_launch", 0) == 0);
  CHECK(lib == static_cast<int>(g.ops.size()) - 3);
  // Parameters: layer 0: 64*(8+16) + 128 = 1,664; layer 1: 64*(16+16) + 128 = 2,176.
  CHECK(g.info.at("params") == 3840.0);
  // algo=auto at hidden 16 <= 192: PyTorch's persistent small-hidden algorithm, per
  // layer the input GEMM and one recurrence (batch = 3 steps of 4 x 64 x 16).
  const Graph p = build_workload("lstm:batch=4,seq=3,input=8,hidden=16,layers=2");
  CHECK(p.ops.size() == 2 + 4);
  const Op& rec = find_op(p, "l0.recurrence");
  CHECK(rec.at("rnn") == 3);
  CHECK(rec.at("batch") == 3);
  CHECK(rec.at("m") == 4);
  CHECK(rec.at("n") == 64);
  CHECK(rec.at("k") == 16);
  CHECK(find_op(p, "l1.input_proj").deps == std::vector<int>{3});
  // A GRU has no c_0: h0 only.
  CHECK(build_workload("gru:batch=4,seq=3,input=8,hidden=16,layers=2").ops.size() == 1 + 4);
  // The same products: 3 x (2 x 4 x 64 x 16) per layer.
  CHECK(op_flops(rec) == 3.0 * 2 * 4 * 64 * 16);
}

TEST_CASE("Evoformer variant=openfold: OpenFold's EvoformerBlock with masks, stock attention",
          "[models][flops]") {
  Graph g = build_workload("evoformer:variant=openfold,n_seq=4,n_res=8,c_m=16,c_z=8,c_opm=2,c_tri=4,"
                           "heads_msa=2,heads_pair=2,c_hidden=4");
  // Outer product mean (Alg. 10) with s=4, r=8, c_m=16, c_opm=2, c_z=8, the msa
  // mask applied to a and b and the normaliser einsum(mask, mask) + eps:
  //   layer_norm  8 FLOP/elem * 32 * 16  = 4,096
  //   linear_1/2  2 * 32 * 2 * 16        = 2,048 each, x mask 32 * 2 = 64 each
  //   outer       2 * (8*2) * (8*2) * 4  = 2,048 (the reshape copy: none)
  //   linear_out  2 * 64 * 8 * 4         = 4,096
  //   norm        2 * 8 * 8 * 4          =   512, + eps 8 * 8 = 64
  //   mean        64 * 8                 =   512
  //   residual    64 * 8                 =   512
  //   total                              = 16,064
  CHECK(flops_prefix(g, "b0.outer_product_mean.") == 16064.0);
  const Op& outer = find_op(g, "b0.outer_product_mean.outer");
  CHECK(outer.at("m") == 16);
  CHECK(outer.at("n") == 16);
  CHECK(outer.at("k") == 4);
  // Triangle product (Alg. 11): per channel c, Z[i,j] = sum_k A[i,k] B[j,k]:
  // 2 * c_tri 4 * 8^3 = 4,096; its permuted operands are copied for CUDA's bmm.
  CHECK(op_flops(find_op(g, "b0.tri_mul_out.triangle_product")) == 4096.0);
  CHECK(op_flops(find_op(g, "b0.tri_mul_in.triangle_product")) == 4096.0);
  CHECK(find_op(g, "b0.tri_mul_in.triangle_product.copy_a").kind == OpKind::copy);
  // The row attention's stock path: q scaled in place, q and k^T copied by
  // matmul's reshape, Q.K^T over batch = s x heads = 8, the mask bias (rows
  // contiguous) and the pair bias (a permuted projection: last-dim stride = heads)
  // added, softmax, v copied, P.V, gate, the flatten copy, linear_o.
  std::vector<std::string> row;
  for (const auto& op : g.ops)
    if (op.name.starts_with("b0.msa_row_attn.")) row.push_back(op.name.substr(16));
  CHECK(row == std::vector<std::string>{
                   "mask_bias.sub", "mask_bias.mul", "layer_norm_z", "linear_z",  "layer_norm_m", "linear_q",
                   "linear_k",      "linear_v",      "q_scale",      "q_reshape", "k_reshape",    "qk",
                   "mask_bias_add", "bias_add",      "softmax",      "v_reshape", "pv",           "linear_g",
                   "gate.sigmoid",  "gate.mul",      "flatten",      "linear_o",  "residual"});
  const Op& qk = find_op(g, "b0.msa_row_attn.qk");
  CHECK(qk.at("batch") == 8);
  CHECK(qk.at("m") == 8);
  CHECK(qk.at("n") == 8);
  CHECK(qk.at("k") == 4);
  CHECK(find_op(g, "b0.msa_row_attn.mask_bias_add").at("bcast_stride") == 1);
  CHECK(find_op(g, "b0.msa_row_attn.bias_add").at("bcast_stride") == 2);
  CHECK(find_op(g, "b0.tri_att_end.bias_add").at("bcast_stride") == 2);
  // Column attention: batch = r columns x heads, sequences attend: s keys; no pair
  // bias, and LayerNorm copies the transposed m first.
  CHECK(find_op(g, "b0.msa_col_attn.qk").at("batch") == 16);
  CHECK(find_op(g, "b0.msa_col_attn.qk").at("n") == 4);
  CHECK(std::none_of(g.ops.begin(), g.ops.end(),
                     [](const Op& op) { return op.name.starts_with("b0.msa_col_attn.bias_add"); }));
  CHECK(find_op(g, "b0.msa_col_attn.layer_norm_m.contiguous").kind == OpKind::copy);
  // Kernels per block: row attention 23, column 21, transitions 6 + 6, outer
  // product mean 12, triangle updates 2 x 21, triangle attention 22 + 23 (the
  // ending node's LayerNorm copy) = 155.
  CHECK(g.ops.size() == 155);
  // Module order follows Algorithm 6.
  std::vector<std::string> modules;
  for (const auto& op : g.ops) {
    const std::string m = op.name.substr(3, op.name.find('.', 3) - 3);
    if (modules.empty() || modules.back() != m) modules.push_back(m);
  }
  CHECK(modules == std::vector<std::string>{"msa_row_attn", "msa_col_attn", "msa_transition",
                                            "outer_product_mean", "tri_mul_out", "tri_mul_in",
                                            "tri_att_start", "tri_att_end", "pair_transition"});
  // attn=fused: one attention kernel with the biases per attention (DeepSpeed's
  // DS4Sci_EvoformerAttention) in place of the scale, 3 copies, 2 bmm, the bias
  // adds, softmax and the flatten copy: 10 -> 1 with two biases (row, triangle
  // start and end), 9 -> 1 with the mask alone (column): 155 - 3 * 9 - 8 = 120.
  Graph f = build_workload(
      "evoformer:variant=openfold,attn=fused,n_seq=4,n_res=8,c_m=16,c_z=8,c_opm=2,c_tri=4,"
      "heads_msa=2,heads_pair=2,c_hidden=4");
  CHECK(f.ops.size() == 120);
  const Op& fr = find_op(f, "b0.msa_row_attn.attention");
  CHECK(fr.at("batch") == 4);
  CHECK(fr.at("sq") == 8);
  CHECK(fr.at("bias") == 1);
  CHECK(fr.at("bias_shared") == 1);
  CHECK(op_flops(fr) == 4.0 * 4 * 2 * 8 * 8 * 4);
  Graph two = build_workload("evoformer:variant=openfold,n_seq=4,n_res=8,blocks=2");
  CHECK(two.total_flops() == Approx(2 * build_workload("evoformer:variant=openfold,n_seq=4,n_res=8").total_flops()));
}

TEST_CASE("Evoformer variant=sdpa launches what evoformer_sdpa.py launches", "[models]") {
  // shared/reference/models/evoformer_sdpa.py on CUDA, per block (s = 16, r = 32):
  //   row attention 9 (LN z, bias mm, LN m, qkvg mm, SDPA, sigmoid, mul, addmm, add)
  //   column attention 8 (+1 copy: LayerNorm of the transposed m)
  //   MSA transition 5, outer product mean 9 (3 copies of the einsum and reshape)
  //   triangle updates 2 x 16 (2 bmm operand copies + 1 LayerNorm copy each)
  //   triangle attention 8 + 9 (the ending node's transposed z copied), pair transition 5
  //   = 9 + 8 + 5 + 9 + 32 + 17 + 5 = 85 kernels.
  Graph g = build_workload("evoformer:n_seq=16,n_res=32,dtype=fp32");
  CHECK(g.ops.size() == 85);
  CHECK(count_kind(g, OpKind::attention) == 4);
  CHECK(count_kind(g, OpKind::copy) == 2 + 3 + 6);
  // The row attention's float pair bias [1, 8, 32, 32], broadcast over the 16 rows.
  const Op& row = find_op(g, "b0.row.sdpa");
  CHECK(row.at("batch") == 16);
  CHECK(row.at("sq") == 32);
  CHECK(row.at("bias") == 1);
  CHECK(row.at("bias_shared") == 1);
  CHECK(row.get("bias_bool", 0) == 0);
  CHECK(find_op(g, "b0.col.sdpa").get("bias", 0) == 0);
  CHECK(find_op(g, "b0.tri_att_end.sdpa").at("heads") == 4);
  // One fused q|k|v|g projection (no bias): 4 x 8 heads x 32.
  CHECK(find_op(g, "b0.row.qkvg").at("n") == 1024);
  // The outer product's bmm: m = n = r * c_opm = 1024, k = s = 16.
  const Op& outer = find_op(g, "b0.opm.einsum.bmm");
  CHECK(outer.at("m") == 1024);
  CHECK(outer.at("k") == 16);
  // OpenFold's block stays available (tested above).
  CHECK(build_workload("evoformer:variant=openfold,n_seq=16,n_res=32").ops.size() == 155);
}

TEST_CASE("generic kernels take the parameters their names suggest", "[models]") {
  Graph a = build_workload("attention:batch=2,heads=16,kv_heads=4,sq=1,skv=4096,d=128");
  REQUIRE(a.ops.size() == 1);
  CHECK(a.ops[0].at("kv_heads") == 4);
  CHECK(a.ops[0].at("skv") == 4096);
  Graph c = build_workload("conv2d:cin=32,cout=32,h=56,groups=depthwise,pad=1");
  CHECK(c.ops[0].at("groups") == 32);
  CHECK(c.ops[0].at("w") == 56);
  for (const char* k : {"layernorm", "rmsnorm", "softmax", "gelu", "add"}) {
    Graph v = build_workload(std::string(k) + ":rows=512,cols=768");
    CHECK(op_kind_name(v.ops[0].kind) == k);
    CHECK(v.ops[0].at("rows") == 512);
  }
}

TEST_CASE("bad workload parameters are InputErrors naming the key", "[models]") {
  CHECK_THROWS_AS(build_workload("llama-7b:phase=train"), InputError);
  CHECK_THROWS_WITH(build_workload("llama-7b:phase=train"),
                    Catch::Contains("'phase': 'train' is not accepted; accepted: prefill, decode"));
  CHECK_THROWS_WITH(build_workload("llama-7b:layers=33"),
                    Catch::Contains("'layers': 33 exceeds the model's 32 layers"));
  CHECK_THROWS_WITH(build_workload("attention:heads=6,kv_heads=4"),
                    Catch::Contains("heads=6 is not a multiple of kv_heads=4"));
  CHECK_THROWS_WITH(build_workload("alexnet:image=32"), Catch::Contains("too small"));
  CHECK_THROWS_WITH(build_workload("bert-base:seq=1024"), Catch::Contains("512 positions"));
}

TEST_CASE("llama3-8b and the generic llama decoder: Meta's shapes with grouped-query K and V", "[models]") {
  // Meta-Llama-3-8B: d 4096, 32 heads of 128, 8 KV heads (K and V 8 x 128 = 1024
  // wide), SwiGLU 14336, vocabulary 128256. Per layer q 4096^2 = 16,777,216, k and
  // v 4096 x 1024 = 4,194,304 each, o 16,777,216, gate/up/down 3 x 4096 x 14336 =
  // 176,160,768, two RMSNorm weights 8192: 218,112,000. 32 layers 6,979,584,000,
  // the embedding 128256 x 4096 = 525,336,576, the final norm 4096: 7,504,924,672
  // (Meta's 8,030,261,248 less the LM head, 525,336,576: LlamaModel has none).
  const Graph g = build_workload("llama3-8b:batch=1,seq=512");
  CHECK(g.info.at("params_per_layer") == 218112000.0);
  CHECK(g.info.at("params") == 7504924672.0);
  CHECK(find_op(g, "l0.attn.k_proj").at("n") == 1024);
  CHECK(find_op(g, "l0.attn.q_proj").at("n") == 4096);
  CHECK(find_op(g, "l0.mlp.gate_proj").at("n") == 14336);
  // The generic decoder of the same shape is the same graph.
  const Graph l =
      build_workload("llama:layers=32,hidden=4096,heads=32,kv_heads=8,ffn=14336,vocab=128256,seq=512");
  REQUIRE(l.ops.size() == g.ops.size());
  for (size_t i = 0; i < g.ops.size(); ++i) {
    CHECK(l.ops[i].name == g.ops[i].name);
    CHECK(l.ops[i].attrs == g.ops[i].attrs);
  }
  CHECK(l.info.at("params") == g.info.at("params"));
  // lm_head=1: LlamaForCausalLM's untied output projection, 128256 x 4096 =
  // 525,336,576 weights more (Meta's 8,030,261,248 in all).
  const Graph h = build_workload("llama3-8b:batch=1,seq=512,lm_head=1");
  CHECK(h.info.at("params") == 8030261248.0);
  CHECK(find_op(h, "lm_head").at("n") == 128256);
  CHECK(find_op(h, "lm_head").at("m") == 512);
  CHECK(h.ops.size() == g.ops.size() + 1);
  // llama3-70b: 64 heads, 8 KV heads, 80 layers.
  CHECK(find_op(build_workload("llama3-70b:layers=1,seq=64"), "l0.attn.v_proj").at("n") == 8 * 128);
  // Shapes that do not divide are refused, naming the parameters.
  CHECK_THROWS_WITH(build_workload("llama:layers=2,hidden=4096,heads=32,kv_heads=5,ffn=14336"),
                    Catch::Contains("heads a multiple of kv_heads=5"));
  CHECK_THROWS_AS(build_workload("llama:layers=2,hidden=4096,heads=32"), InputError);  // no ffn
}
