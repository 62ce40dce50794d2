#include "sim/cli/cli.h"
#include "sim/cli/memsim.h"

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <fmt/ostream.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "models/compute/systolic_array.h"
#include "isa/asm.h"
#include "sim/engines/engine.h"
#include "sim/param_space.h"
#include "sim/precision.h"
#include "sim/propagate.h"
#include "core/atomic_file.h"
#include "core/error.h"
#include "core/utf8.h"
#include "models/builtin.h"
#include "sim/collective_report.h"
#include "sim/simulate.h"
#include "sim/trace_export.h"
#include "sim/engines/capacity.h"
#include "sim/engines/parallel.h"
#include "workloads/models/parallel.h"
#include "sim/tools/calibrate.h"
#include "sim/tools/compare.h"
#include "sim/cli/sweep.h"
#include "workloads/workloads.h"


namespace tessera {
namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace {

constexpr const char* kUsage = R"(usage: tessera <command> [options]

commands:
  run        simulate a workload (or a compiled program) on a hardware description
  compile    compile a workload for a hardware target and print the program
  list       list hw | workloads | components | formats | engines | params
  compare    predict measured records (JSONL) and report the error per section
  calibrate  fit the GPU model's efficiencies to measured microbenchmarks
  sweep      run a design-space sweep into a results database; report, merge
  memsim     run a memory trace or access pattern through the cycle-level DRAM model

'tessera <command> --help' describes each command's options.
)";

// Writes `content` to `path` atomically (temporary file + rename), or to `out`
// when no path is given, so that a failed run never leaves a partial file.
void emit(const std::string& content, const std::string& path, std::ostream& out) {
  if (path.empty()) {
    out << content;
    return;
  }
  write_file_atomic(path, content, "--out");
}

po::variables_map parse(const po::options_description& desc, const std::vector<std::string>& args,
                        const std::string& command) {
  po::variables_map vm;
  try {
    // No positional arguments: a stray word is an error, not silently dropped.
    po::store(po::command_line_parser(args).options(desc).positional(po::positional_options_description()).run(),
              vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw InputError(fmt::format("tessera {}: {}; see 'tessera {} --help'", command, e.what(), command));
  }
  return vm;
}

std::string render(const RunResult& r, const std::string& format) {
  std::ostringstream os;
  if (format == "json") {
    // Names taken from input files (a CSV layer, an ONNX node) that are not UTF-8
    // print as U+FFFD rather than failing the report.
    os << report_json(r).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  } else if (format == "csv") {
    write_csv_report(os, r);
  } else {
    write_text_report(os, r);
  }
  return os.str();
}

void check_format(const std::string& f, const std::vector<std::string>& accepted) {
  for (const auto& a : accepted)
    if (a == f) return;
  std::string acc;
  for (const auto& a : accepted) acc += (acc.empty() ? "" : ", ") + a;
  throw InputError(fmt::format("--format: unknown format '{}'; accepted: {}", f, acc));
}

// SCALE-Sim's own report files for a systolic target: one row per matrix product
// (a convolution is one layer; attention is its two products), written into a
// fresh directory that replaces `dir` only once every file is complete.
void write_scalesim_dir(const Graph& g, const Hardware& hw, const std::string& dir) {
  const auto* array = dynamic_cast<const SystolicArray*>(&hw.compute());
  if (!array)
    throw InputError(fmt::format("--format scalesim: needs a systolic compute target; {} has '{}'", hw.name,
                                 hw.compute().impl()));
  systolic::ArrayConfig cfg = array->array_config();
  // USER bandwidth mode when the off-chip level has a finite bandwidth (a CALC
  // .cfg imports as 1 PB/s, see models/systolic/scalesim_cfg.cpp).
  const double bw = hw.outermost_memory().bandwidth_bps();
  if (bw < 1e15) {
    cfg.bandwidth_mode = systolic::BandwidthMode::user;
    cfg.dram_words_per_cycle = bw / (static_cast<double>(cfg.word_bytes) * cfg.clock_hz);
  }
  // SCALE-Sim's own DRAM columns come from replaying its buffers (compute.dram_model
  // auto or scalesim_replay), where that replay applies: CALC bandwidth, one array.
  // Elsewhere (or with dram_model=analytic) the DRAM columns are Tessera's
  // closed form and their headers say so.
  const bool replay_applies = cfg.bandwidth_mode == systolic::BandwidthMode::calc && cfg.cores == 1;
  if (array->params().text("dram_model") != "analytic" && replay_applies)
    cfg.dram_model = systolic::DramModel::scalesim_replay;
  std::string dram_note;
  if (cfg.dram_model != systolic::DramModel::scalesim_replay)
    dram_note = !replay_applies && cfg.cores != 1 ? "Tessera analytic: cores > 1"
                : !replay_applies                 ? "Tessera analytic: USER bandwidth"
                                                  : "Tessera analytic";
  std::vector<systolic::Layer> layers;
  std::vector<systolic::LayerResult> results;
  for (const Op& op : g.ops)
    for (const auto& sl : SystolicArray::layers_of(op)) {
      layers.push_back(sl.layer);
      results.push_back(systolic::simulate_layer(cfg, sl.layer));
    }
  if (layers.empty()) throw InputError("--format scalesim: the workload has no matrix products");
  fs::path target = fs::path(dir).lexically_normal();
  if (target.filename().empty()) target = target.parent_path();   // "reports/" -> "reports"
  std::error_code ec;
  if (fs::exists(target, ec) && !fs::is_directory(target, ec))
    throw InputError(fmt::format("--out: '{}' exists and is not a directory", dir));
  const fs::path tmp = temp_path_beside(target.string());
  try {
    systolic::write_scalesim_reports(tmp, layers, results, dram_note);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  replace_dir_atomic(tmp.string(), target.string(), "--out");
}

int cmd_run(const std::vector<std::string>& args, std::ostream& out) {
  std::string hw_name, workload, program, engine = "analytic", format = "text", out_path, trace_path;
  std::vector<std::string> sets;
  PrecisionOptions popt;
  std::string seed_text;   // --seed as given (checked below)
  po::options_description desc("tessera run options");
  desc.add_options()("help,h", "show this help")(
      "hw", po::value(&hw_name), "hardware preset name or YAML / SCALE-Sim .cfg path (required)")(
      "workload", po::value(&workload), "workload spec name:key=value,... or a trace/topology/ONNX file")(
      "program", po::value(&program), "run a program file written by 'tessera compile --emit asm'")(
      "engine", po::value(&engine), "analytic (default) | systemc | systemc:streams=N (N = 1..16 kernels in flight)")(
      "set", po::value(&sets)->composing(),
      "set a parameter: path=value, e.g. compute.max_clock=1.4GHz, workload.seq=4096, engine.streams=2 "
      "(repeatable; 'tessera list params' shows every path)")(
      "format", po::value(&format), "text (default) | json | csv | scalesim (SCALE-Sim CSVs into --out DIR)")(
      "out", po::value(&out_path), "write the report to this file instead of stdout")(
      "trace", po::value(&trace_path), "also write a timeline of the run: a Chrome/Perfetto trace-event JSON file")(
      "precision", "add each op's output error vs an fp64 reference (bit-exact emulation)")(
      "samples", po::value(&popt.samples), "sampled output elements per op for --precision (default 256)")(
      "seed", po::value(&seed_text), "seed of the operand draws for --precision (default 1)")(
      "dist", po::value(&popt.dist), "operand distribution for --precision: normal (default) | uniform01");
  auto vm = parse(desc, args, "run");
  if (vm.count("help")) {
    out << desc;
    return 0;
  }
  if (hw_name.empty()) throw InputError("tessera run: --hw is required (a preset name or a file)");
  if (workload.empty() == program.empty())
    throw InputError("tessera run: give exactly one of --workload and --program");
  check_format(format, {"text", "json", "csv", "scalesim"});
  if (popt.samples < 1 || popt.samples > 1000000)
    throw InputError(fmt::format("--samples: {} is out of range; accepted: 1..1000000", popt.samples));
  if (popt.dist != "normal" && popt.dist != "uniform01")
    throw InputError(fmt::format("--dist: unknown distribution '{}'; accepted: normal, uniform01", popt.dist));
  if (vm.count("seed")) {
    // An unsigned 64-bit integer, written out: "-1" is refused rather than
    // wrapped to 2^64 - 1 as the option library's conversion would.
    const char* end = seed_text.data() + seed_text.size();
    const auto [ptr, ec] = std::from_chars(seed_text.data(), end, popt.seed);
    if (seed_text.empty() || ec != std::errc() || ptr != end)
      throw InputError(fmt::format("--seed: '{}' is not a seed; accepted: an integer 0..18446744073709551615",
                                   seed_text));
  }
  for (const char* opt : {"samples", "seed", "dist"})
    if (vm.count(opt) && !vm.count("precision"))
      throw InputError(fmt::format("--{}: applies to --precision only", opt));
  if (vm.count("precision") && workload.empty())
    throw InputError("--precision: needs --workload (a program file has no operand formats per op)");
  if (format == "scalesim" && (out_path.empty() || workload.empty()))
    throw InputError("--format scalesim: needs --workload and --out DIR (the report directory)");
  if (vm.count("trace") && trace_path.empty()) throw InputError("--trace: needs a file name (FILE.json)");
  if (!trace_path.empty() && format == "scalesim")
    throw InputError("--trace: not with --format scalesim (it writes SCALE-Sim's reports, not a run)");
  const RunSettings settings = resolve_sets(workload, engine, sets);
  workload = settings.workload;
  auto eng = make_engine(settings.engine);
  auto hw = load_hardware(hw_name, settings.hw_sets);
  Program prog;
  nlohmann::json precision, footprint;
  std::map<std::string, double> info;   // the workload's graph.info
  if (!program.empty()) {
    std::ifstream f(program);
    if (!f) throw InputError(fmt::format("--program: cannot read '{}'", program));
    std::stringstream ss;
    ss << f.rdbuf();
    prog = assemble(ss.str(), program);
    if (prog.devices > 1)
      throw InputError(fmt::format(
          "--program '{}': compiled from a multi-device workload ('{}', {} devices): it lists every pipeline "
          "chunk's kernels and collectives without the schedule and the devices that run them, which one "
          "device's engine cannot time; run the workload itself: tessera run --hw {} --workload '{}'",
          program, prog.workload, prog.devices, hw_name, prog.workload));
    check_program_hardware(prog, *hw, program);
    if (prog.resident.size() == 5) {  // what it keeps resident must fit, as for --workload
      const Footprint fp{prog.resident[0], prog.resident[1], prog.resident[2], prog.resident[3], prog.resident[4]};
      check_capacity(fp, *hw, fmt::format("--program '{}' (workload '{}') on '{}'", program, prog.workload, hw->name),
                     settings.engine.allow_over_capacity);
      footprint = footprint_json(fp, *hw);
    }
  } else {
    const Graph g = build_workload(workload);
    info = g.info;
    if (is_parallel_graph(g)) {   // a multi-device workload: sim/engines/parallel.h
      if (format == "scalesim" || vm.count("precision"))
        throw InputError("--workload: a multi-device workload (tp/pp/dp/... given) supports --format text, json, csv");
      const RunResult pr = simulate_parallel(g, *hw, settings.engine);
      const std::string report = render(pr, format);
      if (!trace_path.empty()) write_trace(pr, trace_path);  // its passes per device (sim/trace_export.h)
      emit(report, out_path, out);
      return 0;
    }
    if (format == "scalesim") {
      write_scalesim_dir(g, *hw, out_path);
      return 0;
    }
    // What stays resident must fit the device (sim/engines/capacity.h).
    const Footprint fp = graph_footprint(g);
    check_capacity(fp, *hw, fmt::format("--workload '{}' on '{}'", workload, hw->name),
                   settings.engine.allow_over_capacity);
    footprint = footprint_json(fp, *hw);
    prog = compile(g, *hw);
    if (vm.count("precision")) {
      const double budget = settings.engine.emulation_budget_s;
      if (const double s = precision_report_seconds(g, *hw, popt); s > budget)
        throw InputError(fmt::format(
            "--precision: the per-op report samples {} outputs of every op, an estimated {:.3g} s of bit-exact "
            "emulation over engine.emulation_budget = {:g} s; use fewer --samples or --set "
            "engine.emulation_budget={:.0f}s",
            popt.samples, s, budget, std::ceil(s)));
      precision = precision_report(g, *hw, popt);
      // Small networks also get the error propagated end to end.
      const double e2e = propagate_seconds(g, *hw);
      if (is_training_graph(g))
        precision["propagated"] = {{"skipped", "a training step: end-to-end emulation executes forward graphs only"}};
      else if (e2e <= budget)
        precision["propagated"] = propagate_error(g, *hw, popt, budget);
      else
        precision["propagated"] = {
            {"skipped", fmt::format("{:.3g} multiply-accumulates, an estimated {:.3g} s of emulation over "
                                    "engine.emulation_budget = {:g} s",
                                    graph_macs(g), e2e, budget)}};
    }
  }
  RunResult r = eng->run(prog, *hw);
  if (!precision.is_null()) r.extra["precision"] = precision;
  if (!footprint.is_null()) r.extra["memory_footprint"] = footprint;
  if (info.count("train_step")) {
    // A training step's kernel time by phase (launch idle left out, as a profiler
    // sums it): its ops are forward, backward, optimizer in that order
    // (workloads/training.h). The three add up to the stat compute.kernel_time.
    const size_t nf = static_cast<size_t>(info["ops_forward"]), nb = static_cast<size_t>(info["ops_backward"]);
    double t[3] = {0, 0, 0};
    for (size_t i = 0; i < r.ops.size(); ++i) t[i < nf ? 0 : i < nf + nb ? 1 : 2] += r.ops[i].time_s - r.ops[i].idle_s;
    r.extra["training_step"] = {{"forward_s", t[0]},
                                {"backward_s", t[1]},
                                {"optimizer_s", t[2]},
                                {"flops_forward", info["flops_forward"]},
                                {"flops_backward", info["flops_backward"]},
                                {"flops_optimizer", info["flops_optimizer"]},
                                {"params_trained", info["params_trained"]},
                                {"ops_forward", info["ops_forward"]},
                                {"ops_backward", info["ops_backward"]},
                                {"ops_optimizer", info["ops_optimizer"]}};
  }
  if (auto coll = collective_section(r, info); !coll.is_null()) r.extra["collective"] = coll;
  // An ONNX model's symbolic input dimensions (workloads/importers/onnx/import.cpp).
  nlohmann::json dims = nlohmann::json::object();
  for (const auto& [key, value] : info) {
    if (key.rfind("onnx_dim:", 0) == 0) dims[key.substr(9)] = {{"size", value}, {"set", true}};
    if (key.rfind("onnx_dim_unset:", 0) == 0) dims[key.substr(15)] = {{"size", 1}, {"set", false}};
  }
  if (!dims.empty()) r.extra["onnx_dims"] = dims;
  const std::string report = render(r, format);
  if (!trace_path.empty()) write_trace(r, trace_path);
  emit(report, out_path, out);
  return 0;
}

int cmd_compile(const std::vector<std::string>& args, std::ostream& out) {
  std::string hw_name, workload, emit_kind = "asm", out_path;
  std::vector<std::string> sets;
  po::options_description desc("tessera compile options");
  desc.add_options()("help,h", "show this help")("hw", po::value(&hw_name), "hardware preset or file")(
      "workload", po::value(&workload), "workload spec or file")(
      "set", po::value(&sets)->composing(), "set a hardware or workload parameter: path=value")(
      "emit", po::value(&emit_kind), "asm (default)")("out", po::value(&out_path), "output file");
  auto vm = parse(desc, args, "compile");
  if (vm.count("help")) {
    out << desc;
    return 0;
  }
  if (hw_name.empty() || workload.empty())
    throw InputError("tessera compile: --hw and --workload are required");
  if (emit_kind != "asm")
    throw InputError(fmt::format("--emit: unknown output '{}'; accepted: asm", emit_kind));
  for (const auto& s : sets)
    if (s.rfind("engine.", 0) == 0)
      throw InputError(fmt::format("--set '{}': engine parameters apply to 'tessera run' (compile runs no "
                                   "engine)", s));
  const RunSettings settings = resolve_sets(workload, "analytic", sets);
  auto hw = load_hardware(hw_name, settings.hw_sets);
  const Graph g = build_workload(settings.workload);
  Program p = compile(g, *hw);
  if (!is_parallel_graph(g)) {  // its resident footprint, checked by run --program
    const Footprint f = graph_footprint(g);
    p.resident = {f.weights, f.gradients, f.optimizer, f.activations, f.kv_cache};
  } else {
    const ParallelConfig c = parallel_config_of(g);
    p.devices = c.tp * c.pp * c.dp;
  }
  emit(disassemble(p), out_path, out);
  return 0;
}

// `tessera list params`: every settable path of a run with its current value,
// type or unit and description, in the parameter space's order.
int list_params(const std::vector<std::string>& args, std::ostream& out) {
  std::string hw_name, workload, engine = "analytic";
  std::vector<std::string> sets;
  po::options_description desc("tessera list params options");
  desc.add_options()("help,h", "show this help")("hw", po::value(&hw_name), "hardware preset or file (required)")(
      "workload", po::value(&workload), "workload spec (adds its workload.* parameters)")(
      "engine", po::value(&engine), "engine, as for 'tessera run' (default analytic)")(
      "set", po::value(&sets)->composing(), "set a parameter first: path=value");
  auto vm = parse(desc, std::vector<std::string>(args.begin() + 1, args.end()), "list params");
  if (vm.count("help")) {
    out << desc;
    return 0;
  }
  if (hw_name.empty()) throw InputError("tessera list params: --hw is required (a preset name or a file)");
  const RunSettings settings = resolve_sets(workload, engine, sets);
  if (!settings.workload.empty()) build_workload(settings.workload);   // reports a bad spec
  const auto hw = load_hardware(hw_name, settings.hw_sets);
  const ParamSpace space = run_param_space(*hw, settings.workload, settings.engine);
  size_t wp = 4, wv = 5, wt = 4;
  auto shown = [](const std::string& v) { return v.empty() ? std::string("(required)") : v; };
  for (size_t i = 0; i < space.size(); ++i) {
    wp = std::max(wp, space.path(i).size());
    wv = std::max(wv, shown(space.value(i)).size());
    wt = std::max(wt, space.spec(i).type_text().size());
  }
  fmt::print(out, "{:<{}}  {:<{}}  {:<{}}  {}\n", "path", wp, "value", wv, "type", wt, "description");
  for (size_t i = 0; i < space.size(); ++i)
    fmt::print(out, "{:<{}}  {:<{}}  {:<{}}  {}\n", space.path(i), wp, shown(space.value(i)), wv,
               space.spec(i).type_text(), wt, space.spec(i).description);
  return 0;
}

int cmd_list(const std::vector<std::string>& args, std::ostream& out) {
  const std::string what = args.empty() ? "" : args[0];
  if (what == "params") return list_params(args, out);
  if (what == "hw") {
    for (const auto& name : hw_preset_names()) {
      std::string desc;
      try {
        desc = load_hardware(name, {})->description;
      } catch (const InputError& e) {
        desc = fmt::format("(invalid: {})", e.what());
      }
      fmt::print(out, "{:<14} {}\n", name, desc);
    }
    return 0;
  }
  if (what == "workloads") {
    for (const auto& w : builtin_workloads()) {
      fmt::print(out, "{:<18} {}\n", w.name, w.description);
      for (const auto& p : w.params)
        fmt::print(out, "    {:<12} {:<10} {}\n", p.name,
                   p.default_value.empty() ? "(required)" : "=" + p.default_value, p.description);
    }
    fmt::print(out, "\nCommon parameters (every built-in workload):\n");
    for (const auto& p : common_workload_params())
      fmt::print(out, "    {:<12} {:<10} {}\n", p.name, "=" + p.default_value, p.description);
    fmt::print(out, "\nFiles: a JSON trace (.json, docs/trace-format.md), a SCALE-Sim topology (.csv), an "
                    "ONNX model (.onnx).\n");
    return 0;
  }
  if (what == "components") {
    const Registry& r = builtin_registry();
    for (const auto& kind : r.kinds()) {
      fmt::print(out, "[{}]\n", kind);
      for (const ImplInfo* i : r.impls(kind)) {
        fmt::print(out, "  impl: {}  -- {}\n", i->name, i->description);
        for (const auto& p : i->params)
          fmt::print(out, "    {:<22} {:<14} {:<14} {}\n", p.name, p.type_text(),
                     p.required() ? "(required)" : p.default_value, p.description);
      }
    }
    fmt::print(out, "[numerics]  (optional section; no impl)\n");
    for (const auto& p : numerics_param_specs())
      fmt::print(out, "    {:<22} {:<14} {:<14} {}\n", p.name, p.type_text(), p.default_value, p.description);
    return 0;
  }
  if (what == "formats") {
    for (const auto& d : all_dtypes())
      fmt::print(out, "{:<10} {:>5g} bits  {}\n", d.name, d.storage_bits, d.description);
    return 0;
  }
  if (what == "engines") {
    fmt::print(out, "analytic   closed-form pipeline timing per kernel (default; fast sweeps)\n");
    fmt::print(out, "systemc    SystemC 2.3 processes and TLM-2.0 memory targets (contention, timeline)\n");
    fmt::print(out, "           systemc:streams=N keeps up to N (1..16) independent kernels in flight, sharing\n"
                    "           the compute units and queueing on each memory level\n");
    return 0;
  }
  throw InputError(fmt::format("tessera list: unknown list '{}'; accepted: hw, workloads, components, "
                               "formats, engines, params", what));
}

int cmd_compare(const std::vector<std::string>& args, std::ostream& out) {
  std::string hw_name, measured, format = "text", out_path;
  std::vector<std::string> sets;
  po::options_description desc("tessera compare options");
  desc.add_options()("help,h", "show this help")("hw", po::value(&hw_name), "hardware preset or file")(
      "measured", po::value(&measured), "measured records (JSONL)")(
      "set", po::value(&sets)->composing(), "override a hardware key")(
      "format", po::value(&format), "text (default) | json")("out", po::value(&out_path), "output file");
  auto vm = parse(desc, args, "compare");
  if (vm.count("help")) {
    out << desc;
    return 0;
  }
  if (hw_name.empty() || measured.empty())
    throw InputError("tessera compare: --hw and --measured are required");
  check_format(format, {"text", "json"});
  std::ostringstream os;
  const int rc = run_compare(hw_name, sets, measured, format, os);
  emit(os.str(), out_path, out);
  return rc;
}

int cmd_calibrate(const std::vector<std::string>& args, std::ostream& out) {
  std::string hw_name, out_path;
  std::vector<std::string> sets, measured;
  po::options_description desc("tessera calibrate options");
  desc.add_options()("help,h", "show this help")("hw", po::value(&hw_name), "hardware preset or file")(
      "measured", po::value(&measured)->composing(), "microbenchmark records (JSONL; repeat to combine files)")(
      "set", po::value(&sets)->composing(), "override a hardware key")(
      "out", po::value(&out_path), "where to write the calibrated hardware YAML (required)");
  auto vm = parse(desc, args, "calibrate");
  if (vm.count("help")) {
    out << desc;
    return 0;
  }
  if (hw_name.empty() || measured.empty() || out_path.empty())
    throw InputError("tessera calibrate: --hw, --measured and --out are required");
  return run_calibrate(hw_name, sets, measured, out_path, out);
}

// `text` with control characters and bytes that are not UTF-8 written as \xNN,
// so that an error quoting binary input prints as one readable line.
std::string printable(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool ok = len > 0 && i + len <= text.size();
    for (size_t j = 1; ok && j < len; ++j) ok = (static_cast<unsigned char>(text[i + j]) & 0xc0) == 0x80;
    if (ok && len == 1 && (c >= 0x20 || c == '\n' || c == '\t') && c != 0x7f) {
      out += text[i];
    } else if (ok && len > 1) {
      out.append(text.substr(i, len));
      i += len - 1;
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

}  // namespace

int cli_main(int argc, char** argv, std::ostream& out, std::ostream& err) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    out << kUsage;
    return args.empty() ? 2 : 0;
  }
  const std::string cmd = args[0];
  args.erase(args.begin());
  try {
    // Names and paths from the arguments reach the JSON reports, which must be UTF-8.
    for (size_t i = 0; i < args.size(); ++i)
      if (invalid_utf8_at(args[i]))
        throw InputError(fmt::format("argument {} ('{}') is not UTF-8 text", i + 2, args[i]));
    if (cmd == "run") return cmd_run(args, out);
    if (cmd == "compile") return cmd_compile(args, out);
    if (cmd == "list") return cmd_list(args, out);
    if (cmd == "compare") return cmd_compare(args, out);
    if (cmd == "calibrate") return cmd_calibrate(args, out);
    if (cmd == "sweep") return cmd_sweep(args, out, err);
    if (cmd == "memsim") return cmd_memsim(args, out);
    throw InputError(fmt::format("unknown command '{}'; accepted: run, compile, list, compare, calibrate, sweep, memsim",
                                 cmd));
  } catch (const InputError& e) {
    fmt::print(err, "tessera: error: {}\n", printable(e.what()));
    return 2;
  } catch (const std::exception& e) {
    fmt::print(err, "tessera: internal error: {}\n", e.what());
    return 1;
  }
}

}  // namespace tessera
