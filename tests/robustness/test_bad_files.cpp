// Malformed files and arguments: exit 2 naming the file (and line or key), never
// "internal error" (exit 1), never a crash.
#include "tests/robustness/helpers.h"

using namespace tessera::testing;

TEST_CASE("a YAML value of the wrong shape is an input error", "[robustness][files]") {
  const std::string name_list = scratch_file("name_list.yaml", "base: tpu-v1\nname: [x]\n");
  check_refused(cli({"run", "--hw", name_list, "--workload", "gemm:m=8,n=8,k=8"}),
                {name_list, "wrong shape"});
  const std::string impl_list =
      scratch_file("impl_list.yaml", "base: h100-sxm\nmemory:\n  dram:\n    impl: [hbm]\n");
  check_refused(cli({"run", "--hw", impl_list, "--workload", "gemm:m=8,n=8,k=8"}), {impl_list});
}

TEST_CASE("a key given twice in a YAML map is refused with its line", "[robustness][files]") {
  const std::string f = scratch_file("dup.yaml", "base: tpu-v1\ncompute:\n  rows: 32\n  rows: 64\n");
  check_refused(cli({"run", "--hw", f, "--workload", "gemm:m=8,n=8,k=8"}),
                {f + ":4: key 'rows' given twice in the same map"});
}

TEST_CASE("JSON trace numbers that overflow are refused", "[robustness][files]") {
  const std::string huge = scratch_file("huge.json", R"({"ops":[{"kind":"matmul","m":1e330}]})");
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", huge}), {huge, "out of range"});
  const std::string big_attr = scratch_file(
      "big_attr.json",
      R"({"ops":[{"name":"mm","kind":"matmul","attrs":{"batch":1,"m":1e300,"n":8,"k":8}}]})");
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", big_attr}),
                {big_attr, "attribute 'm' = 1e+300 is outside the accepted 0..2^48"});
  const std::string u64 = scratch_file(
      "u64.json",
      R"({"ops":[{"name":"mm","kind":"matmul","attrs":{"batch":1,"m":18446744073709551615,"n":8,"k":8}}]})");
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", u64}), {u64, "attribute 'm'"});
}

TEST_CASE("SCALE-Sim cfg integers beyond 2^40 are refused (1024 x kB overflowed)", "[robustness][files]") {
  const std::string f = scratch_file("big_sram.cfg",
                                     "[general]\nrun_name = big\n[architecture_presets]\nArrayHeight: 8\n"
                                     "ArrayWidth: 8\nIfmapSramSzkB: 9007199254740993\nFilterSramSzkB: 64\n"
                                     "OfmapSramSzkB: 64\nIfmapOffset: 0\nFilterOffset: 10000000\n"
                                     "OfmapOffset: 20000000\nDataflow: ws\n[run_presets]\n"
                                     "InterfaceBandwidth: CALC\n");
  check_refused(cli({"run", "--hw", f, "--workload", "gemm:m=8,n=8,k=8"}),
                {f + ":6: key 'IfmapSramSzkB' has value '9007199254740993' (expected an integer 1..2^40)"});
}

TEST_CASE("compare records with sizes beyond what a size can be are refused", "[robustness][files]") {
  const auto refused = [](const std::string& name, const std::string& record, const std::string& part) {
    const std::string f = scratch_file(name, record + "\n");
    check_refused(cli({"compare", "--hw", "h100-sxm", "--measured", f}), {part});
  };
  // Was m = -9223372036854775808 (float-to-int overflow).
  refused("m_huge.jsonl", R"({"section":"gemm","dtype":"bf16","M":1e300,"N":64,"K":64,"median_ms":1})",
          "field 'M' = 1e+300 must be a whole number in 0..2^48");
  refused("k_huge.jsonl",
          R"({"section":"precision","format":"bf16","dist":"normal","K":6.4e89,"normwise_rel_err":0.001})",
          "field 'K' = 6.4e+89 must be a whole number in 0..2^48");
  refused("k_big.jsonl",
          R"({"section":"precision","format":"bf16","dist":"normal","K":1e12,"normwise_rel_err":0.001})",
          "field 'K' = 1000000000000 must be in 1..131072 (2^17)");
  // Was a signed overflow in the engine's m*n*k*count (compare skipped run's size limit).
  refused("attn_d.jsonl",
          R"({"section":"attn","B":1,"H":1,"S":128,"D":17298672931054,"dtype":"bf16","median_ms":1})",
          "the product of its dimensions");
  refused("section_num.jsonl", R"({"section":5})", "field 'section' must be a string");
  refused("m_frac.jsonl", R"({"section":"gemm","dtype":"bf16","M":1.5,"N":64,"K":64,"median_ms":1})",
          "field 'M' = 1.5 must be a whole number");
  // Was predicted (ctx - 1 clamped to 1 cached token) with exit 0.
  refused("ctx_zero.jsonl", R"({"section":"decode","batch":1,"ctx":0,"layers":32,"graph_median_ms":5})",
          "field 'ctx' = 0 must be >= 2");
  refused("layers_zero.jsonl", R"({"section":"decode","batch":1,"ctx":64,"layers":0,"graph_median_ms":5})",
          "field 'layers' = 0 must be >= 1");
  refused("evoformer_variant.jsonl",
          R"({"section":"evoformer","variant":"af3","dtype":"bf16","n_seq":8,"n_res":16,"c_m":256,"c_z":128,)"
          R"("median_ms":1})",
          "field 'variant' = 'af3' is not a modelled Evoformer; accepted: sdpa (evoformer_sdpa.py), openfold");
  refused(
      "conv_layout.jsonl",
      R"({"section":"conv","dtype":"bf16","N":32,"Cin":64,"Cout":64,"H":56,"W":56,"R":3,"S":3,"stride":1,)"
      R"("pad":1,"memory_format":"nchw","median_ms":0.05})",
      "field 'memory_format' = 'nchw' must be channels_last or contiguous");
  // A whole-model record's profiler rows (kernel_us): each [name, calls, us].
  const std::string e2eg = R"({"section":"e2eg","model":"resnet50","dtype":"bf16","batch":1,"seq":0,)"
                           R"("device_busy_us":900,"kernel_us":)";
  refused(
      "kernel_us_object.jsonl", e2eg + R"({"relu":1}})",
      "field 'kernel_us' is not a list; expected a list of [kernel name (string), calls (whole number >= 1), "
      "microseconds (>= 0)] rows");
  refused("kernel_us_calls.jsonl", e2eg + R"([["relu",1,2.5],["gemm",0.5,3]]})",
          "field 'kernel_us' row 1 ([\"gemm\",0.5,3]) has no whole number of calls");
  refused("kernel_us_time.jsonl", e2eg + R"([["relu",1,-2.5]]})",
          "field 'kernel_us' row 0 ([\"relu\",1,-2.5]) has no time in microseconds");
  refused("kernel_us_pair.jsonl", e2eg + R"([["relu",1]]})",
          "row 0 ([\"relu\",1]) is not a [name, calls, us] triple");
  // The library kernels one call launched (kernels): a list of names.
  const std::string gemm = R"({"section":"gemm","dtype":"bf16","M":64,"N":64,"K":64,"l2":"cold",)"
                           R"("median_ms":0.01,"kernels":)";
  refused("kernels_string.jsonl", gemm + R"("nvjet_hsh_64x64_64x4_1x1_h_bz_NNT"})",
          "field 'kernels' is not a list; expected the kernel names (strings) one call launches");
  refused("kernels_number.jsonl", gemm + R"(["nvjet_hsh_64x64_64x4_1x1_h_bz_NNT",7]})",
          "field 'kernels' entry 1 (7) is not a kernel name (string)");
}

TEST_CASE("stray arguments and options without their mode are refused", "[robustness][cli]") {
  check_refused(cli({"run", "--hw", "tpu-v1", "--workload", "gemm:m=8,n=8,k=8", "extra"}),
                {"tessera run: too many positional options"});
  check_refused(cli({"run", "--hw", "tpu-v1", "--workload", "gemm:m=8,n=8,k=8", "--samples", "10"}),
                {"--samples: applies to --precision only"});
}

TEST_CASE("binary bytes in an argument are escaped in the message", "[robustness][cli]") {
  const auto o = cli({"run", "--hw", "tpu-v1", "--workload", std::string("gemm:m=8,\x01\xff=3")});
  check_refused(o, {"\\x01\\xff"});
  for (char c : o.err) CHECK((c == '\n' || (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f)));
}

TEST_CASE("calibrate refuses records whose fields have the wrong type, before fitting", "[robustness][files]") {
  const auto refused = [](const std::string& name, const std::string& record, const std::string& part) {
    const std::string f = scratch_file(name, record + "\n");
    const std::string out = scratch_file(name + ".out.yaml", "");
    std::filesystem::remove(out);
    check_refused(cli({"calibrate", "--hw", "h100-sxm", "--measured", f, "--out", out}), {f + ": record 1", part});
    CHECK_FALSE(std::filesystem::exists(out));   // nothing written
  };
  // Each was "internal error" (nlohmann type_error, exit 1) or a division by an
  // empty median clock.
  refused("cal_section.jsonl", R"({"section":7,"op":"copy"})", "field 'section' must be a string");
  refused("cal_op.jsonl", R"({"section":"vec","op":["add"]})", "field 'op' must be a string");
  refused("cal_pj.jsonl", R"({"section":"energy","op":"read","pj_per_byte_above_idle":"5"})",
          "field 'pj_per_byte_above_idle' must be a finite number");
  const std::string gemm = R"({"section":"energy","op":"gemm","dtype":"bf16","M":8192,"N":8192,"K":8192,)";
  refused("cal_clocks.jsonl", gemm + R"("sm_clock_mhz":[],"tflops":600,"avg_watts":690,"idle_watts":70})",
          "field 'sm_clock_mhz' must be a non-empty list");
  refused("cal_clock0.jsonl", gemm + R"("sm_clock_mhz":[1755,0],"tflops":600,"avg_watts":690,"idle_watts":70})",
          "field 'sm_clock_mhz' must hold positive, finite clocks");
  refused("cal_tflops.jsonl", gemm + R"("sm_clock_mhz":[1755],"tflops":0,"avg_watts":690,"idle_watts":70})",
          "field 'tflops' must be a positive, finite number");
  refused("cal_watts.jsonl", gemm + R"("sm_clock_mhz":[1755],"tflops":600,"idle_watts":70})",
          "field 'avg_watts' must be a finite number");
  refused("cal_m.jsonl",
          R"({"section":"energy","op":"gemm","dtype":"bf16","M":1e300,"N":8,"K":8,"sm_clock_mhz":[1755],)"
          R"("tflops":600,"avg_watts":690,"idle_watts":70})",
          "field 'M' must be a whole number in 1..2^31");
}

TEST_CASE("memsim gather patterns whose rows x row_bytes overflow are refused", "[robustness][files]") {
  // 10^12 rows of 1 GiB: 2^70 bytes, wrapped around 64 bits before.
  check_refused(cli({"memsim", "--hw", "h100-sxm", "--pattern",
                     "gather:rows=1000000000000,row_bytes=1GiB,table_bytes=1GiB"}),
                {"--pattern: gather rows x row_bytes = 1000000000000 x 1073741824 exceeds 2^50 bytes"});
}

TEST_CASE("an input path that is a directory or a device is named as such", "[robustness][files]") {
  // The message said "does not exist" for a path that exists but is no file.
  const std::string dir = std::filesystem::temp_directory_path().string();
  check_refused(cli({"run", "--hw", dir, "--workload", "gemm:m=8,n=8,k=8"}),
                {"--hw: file '" + dir + "' is a directory, not a file"});
  check_refused(cli({"run", "--hw", "/dev/null", "--workload", "gemm:m=8,n=8,k=8"}),
                {"--hw: file '/dev/null' is not a regular file"});
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", "/dev/null"}),
                {"--workload: file '/dev/null' is not a regular file"});
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", "no/such.json"}),
                {"--workload: file 'no/such.json' does not exist"});
  check_refused(cli({"compare", "--hw", "h100-sxm", "--measured", dir}),
                {"--measured '" + dir + "': is a directory; expected a JSONL file"});
}

TEST_CASE("calibrate refuses an empty file and records that calibrate nothing; no file is written",
          "[robustness][files]") {
  // Both wrote the preset unchanged under a "fitted" header, with exit 0.
  const std::string out = scratch_file("cal_nothing.out.yaml", "");
  std::filesystem::remove(out);
  check_refused(cli({"calibrate", "--hw", "h100-sxm", "--measured", "/dev/null", "--out", out}),
                {"--measured '/dev/null': no records (the file is empty)"});
  const std::string prec = scratch_file(
      "cal_prec.jsonl", R"({"section":"precision","dtype":"bf16","M":256,"N":256,"K":4096,"normwise_rel_err":0.002})"
                        "\n");
  check_refused(cli({"calibrate", "--hw", "h100-sxm", "--measured", prec, "--out", out}),
                {"--measured '" + prec + "': none of the 1 records calibrates a parameter"});
  CHECK_FALSE(std::filesystem::exists(out));
}

TEST_CASE("the --precision seed is an unsigned 64-bit integer: a negative or larger one is refused, not wrapped",
          "[robustness][cli]") {
  const std::vector<std::string> run = {"run", "--hw", "h100-sxm", "--workload", "gemm:m=8,n=8,k=8", "--precision",
                                        "--samples", "4", "--seed"};
  auto with = [&](const std::string& seed) { auto a = run; a.push_back(seed); return cli(a); };
  check_refused(with("-1"), {"--seed: '-1' is not a seed; accepted: an integer 0..18446744073709551615"});
  // 2^64 = 18446744073709551616, one past the largest.
  check_refused(with("18446744073709551616"), {"--seed: '18446744073709551616' is not a seed"});
  check_refused(with("7x"), {"--seed: '7x' is not a seed"});
  CHECK(with("18446744073709551615").code == 0);
}

TEST_CASE("text that is not UTF-8 is refused where it is read, with file, line and byte", "[robustness][files]") {
  // fuzz_sweep_spec: a byte 0xD7 in an axis value reached the spec's JSON form
  // ("internal error", nlohmann type_error 316); a hardware name did the same in
  // --format json (tests/fuzz/regressions/sweep_spec).
  const std::string spec = std::string(TESSERA_SOURCE_DIR) + "/tests/fuzz/regressions/sweep_spec/axis_value_not_utf8.yaml";
  check_refused(cli({"sweep", spec, "--out", scratch_file("utf8.db", "")}),
                {spec + ":11: byte 0xD7 at column 20 is not UTF-8 text"});
  const std::string hw = scratch_file("name_utf8.yaml", "base: h100-sxm\nname: \"x\xd7y\"\n");
  check_refused(cli({"run", "--hw", hw, "--workload", "gemm:m=8,n=8,k=8", "--format", "json"}),
                {hw + ":2: byte 0xD7 at column 9 is not UTF-8 text"});
  // argv[7]: tessera run --hw h100-sxm --workload gemm:... --set name=a\xd7
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", "gemm:m=8,n=8,k=8", "--set", "name=a\xd7"}),
                {"argument 7 ('name=a\\xd7') is not UTF-8 text"});
}

TEST_CASE("a name from a CSV that is not UTF-8 prints as U+FFFD in a JSON report", "[robustness][files]") {
  const std::string csv = scratch_file("name_utf8.csv",
                                       "Layer name,IFMAP Height,IFMAP Width,Filter Height,Filter Width,Channels,"
                                       "Num Filter,Strides,\nc\xd7v1,8,8,3,3,3,8,1,\n");
  const auto o = cli({"run", "--hw", "tpu-v1", "--workload", csv, "--format", "json"});
  CHECK(o.code == 0);
  CHECK(o.out.find("\"k0_c\xef\xbf\xbdv1\"") != std::string::npos);   // U+FFFD is EF BF BD in UTF-8
}

TEST_CASE("a sweep spec node of the wrong shape is an input error naming file and line", "[robustness][files]") {
  // The fuzz ctest's seeded mutations: "{range: ,[8, 256], points: 8}" makes a list
  // a key of the range map, and reading it as a name was yaml-cpp's BadConversion
  // ("internal error", exit 1).
  const std::string spec = std::string(TESSERA_SOURCE_DIR) + "/tests/fuzz/regressions/sweep_spec/range_key_is_a_list.yaml";
  check_refused(cli({"sweep", spec, "--out", scratch_file("shape.db", "")}),
                {spec + ":4: bad conversion (a key or value of the wrong shape"});
}

namespace {

// A JSON trace of one add op on 8 x 8 with the attributes `extra` ("key":value,...).
std::string add_trace(const std::string& file, const std::string& extra) {
  return scratch_file(file,
                      R"({"ops":[{"name":"a","kind":"add","attrs":{"rows":8,"cols":8,)" + extra + "}}]}");
}

int run_trace(const std::string& path) {
  return cli({"run", "--hw", "h100-sxm", "--workload", path}).code;
}

void refused_trace(const std::string& path, const std::string& message) {
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", path}), {path, message});
}

}  // namespace

TEST_CASE("JSON trace broadcast attributes: an element size and a positive stride", "[robustness][files]") {
  refused_trace(add_trace("bcast3.json", R"("bcast_bytes":3)"),
                "op 'a' (add): 'bcast_bytes' = 3 must be an element size: 1, 2, 4 or 8");
  refused_trace(add_trace("bcast_stride0.json", R"("bcast_bytes":2,"bcast_stride":0)"), "'bcast_stride' = 0");
  CHECK(run_trace(add_trace("bcast_ok.json", R"("bcast_bytes":2,"bcast_stride":8)")) == 0);
}

TEST_CASE("JSON trace host attributes: host_sync is a flag, host_calls a positive count", "[robustness][files]") {
  refused_trace(add_trace("host_sync2.json", R"("host_sync":2)"), "'host_sync' = 2 must be 0 or 1");
  refused_trace(add_trace("host_calls0.json", R"("host_calls":0)"),
                "'host_calls' = 0 must be a positive integer");
  // Accepted: a synchronising op of 3 host calls.
  CHECK(run_trace(add_trace("host_ok.json", R"("host_sync":1,"host_calls":3)")) == 0);
}

TEST_CASE("a JSON trace's recurrent-network attributes are checked", "[robustness][files]") {
  // A persistent recurrence (rnn=3): n = gates x k.
  const std::string f = scratch_file(
      "rnn3.json",
      R"({"ops":[{"name":"rec","kind":"matmul","attrs":{"batch":8,"m":2,"n":50,"k":16,"rnn":3}}]})");
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", f}),
                {f,
                 "op 'rec' (matmul): 'rnn' = 3 (a persistent RNN recurrence) needs n = 3 x k (GRU) or 4 x k "
                 "(LSTM), k being the hidden size; n = 50, k = 16"});
  const std::string r4 = scratch_file(
      "rnn4.json",
      R"({"ops":[{"name":"rec","kind":"matmul","attrs":{"batch":8,"m":2,"n":64,"k":16,"rnn":4}}]})");
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", r4}), {r4, "'rnn' = 4 must be 1"});
  const std::string c = scratch_file(
      "cell5.json", R"({"ops":[{"name":"c","kind":"rnn_cell","attrs":{"rows":2,"cols":16,"gates":5}}]})");
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", c}),
                {c, "op 'c' (rnn_cell): 'gates' = 5 must be 4 (LSTM) or 3 (GRU)"});
  const std::string l = scratch_file(
      "lib2.json",
      R"({"ops":[{"name":"c","kind":"rnn_cell","attrs":{"rows":2,"cols":16,"gates":4,"lib_launch":2}}]})");
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", l}), {l, "'lib_launch' = 2 must be 0 or 1"});
  // Accepted: a persistent LSTM recurrence of 8 steps.
  const std::string ok = scratch_file(
      "rnn3_ok.json",
      R"({"ops":[{"name":"rec","kind":"matmul","attrs":{"batch":8,"m":2,"n":64,"k":16,"rnn":3}}]})");
  CHECK(cli({"run", "--hw", "h100-sxm", "--workload", ok}).code == 0);
}

TEST_CASE("a JSON trace's transposed convolution must be a data gradient", "[robustness][files]") {
  // transposed=1 marks a ConvTranspose's forward pass, which runs as grad=1.
  const std::string f = scratch_file(
      "transposed.json",
      R"({"ops":[{"name":"up","kind":"conv2d","attrs":{"n":1,"cin":16,"cout":32,"h":16,"w":16,"r":2,"s":2,)"
      R"("stride":2,"pad":0,"transposed":1}}]})");
  check_refused(cli({"run", "--hw", "h100-sxm", "--workload", f}),
                {f, "op 'up' (conv2d): 'transposed' = 1 with 'grad' = 0: a transposed convolution is transposed=1 "
                    "with grad=1"});
  // With grad=1 it runs, as an inference op.
  const std::string ok = scratch_file(
      "transposed_ok.json",
      R"({"ops":[{"name":"up","kind":"conv2d","attrs":{"n":1,"cin":16,"cout":32,"h":16,"w":16,"r":2,"s":2,)"
      R"("stride":2,"pad":0,"grad":1,"transposed":1}}]})");
  CHECK(cli({"run", "--hw", "h100-sxm", "--workload", ok}).code == 0);
}
