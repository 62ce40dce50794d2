// The multi-device section of the text report (sim/engines/parallel.h fills
// RunResult::extra["parallel"]).
#include <fmt/format.h>
#include <fmt/ostream.h>

#include "core/units.h"
#include "sim/report.h"

namespace tessera {

void write_parallel_text(std::ostream& os, const nlohmann::json& p) {
  auto q = [](double v, Unit u) { return format_quantity(v, u); };
  auto d = [&](const nlohmann::json& j, const char* k) { return j[k].get<double>(); };
  fmt::print(os, "  parallel   {} devices: tp {} x pp {} x dp {}{}; schedule {}{}, {} microbatch{} of {}, "
                 "global batch {}{}{}\n",
             p["devices"].get<long long>(), p["tp"].get<long long>(), p["pp"].get<long long>(),
             p["dp"].get<long long>(), p["ep"].get<long long>() > 1 ? fmt::format(" (ep {})", p["ep"].get<long long>()) : "",
             p["schedule"].get<std::string>(),
             p["virtual_stages"].get<long long>() > 1 ? fmt::format(" ({} virtual stages)", p["virtual_stages"].get<long long>()) : "",
             p["microbatches"].get<long long>(), p["microbatches"].get<long long>() == 1 ? "" : "es",
             p["microbatch"].get<long long>(), p["global_batch"].get<long long>(),
             p["sequence_parallel"].get<bool>() ? ", sequence parallel" : "",
             p["zero"].get<long long>() > 0 ? fmt::format(", ZeRO-{}", p["zero"].get<long long>()) : "");
  fmt::print(os, "  iteration  {}  (pipeline {}, bubble {:.1f} % on the first stage, exposed p2p {}{})\n",
             q(d(p, "iteration_s"), Unit::seconds), q(d(p, "pipeline_s"), Unit::seconds),
             100 * d(p, "bubble_fraction"), q(d(p, "p2p_exposed_s"), Unit::seconds),
             p.value("p2p_overlap", true) ? "" : " in blocking exchanges");
  fmt::print(os, "  MFU        {:.1f} %  (model {:.4g} FLOP per iteration, {} per device; HFU {:.1f} %, "
                 "recomputation included)\n",
             100 * d(p, "mfu"), d(p, "model_flops"), q(d(p, "model_flops_per_device_per_s"), Unit::flops_per_second),
             100 * d(p, "hfu"));
  fmt::print(os, "  energy     {} in all, {} of it communication\n", q(d(p, "energy_j"), Unit::joules),
             q(d(p, "comm_energy_j"), Unit::joules));
  if (p.contains("loss_scaling")) {
    const auto& ls = p["loss_scaling"];
    const std::string stack = ls["stack"].get<std::string>();
    std::string red;
    for (const auto& x : ls["found_inf_allreduces"]) red += (red.empty() ? "" : ", ") + x.get<std::string>();
    fmt::print(os, "  amp fp16   loss scaling as {}; found_inf all-reduced (4 B) per step over: {}\n",
               stack == "megatron" ? "Megatron-LM's MixedPrecisionOptimizer (DynamicGradScaler)"
               : stack == "fsdp"   ? "FSDP's ShardedGradScaler"
                                   : "torch.amp.GradScaler",
               red.empty() ? "none (every rank holds whole gradients)" : red);
  }
  std::string groups;
  for (const auto& [k, v] : p["bytes_by_group"].items())
    groups += fmt::format("{}{} {}", groups.empty() ? "" : ", ", k, q(v.get<double>(), Unit::bytes));
  if (!groups.empty()) fmt::print(os, "  traffic    collective bytes per iteration, all devices: {}\n", groups);
  fmt::print(os, "\n  per device (one row per pipeline position; the tp x dp devices of a row do the same work):\n");
  fmt::print(os, "  {:>3} {:>11} {:>11} {:>11} {:>7} {:>11} {:>11} {:>11} {:>11} {:>11}  {}\n", "pos", "busy",
             "forward", "backward", "bubble", "tp/ep comm", "overlapped", "exposed", "contention", "memory",
             "memory (weights/grads/optimizer/activations/KV)");
  for (const auto& r : p["roles"]) {
    const auto& m = r["memory"];
    fmt::print(os,
               "  {:>3} {:>11} {:>11} {:>11} {:>6.1f}% {:>11} {:>11} {:>11} {:>11} {:>11}  {} / {} / {} / {} "
               "/ {}{}\n",
               r["pipeline_position"].get<long long>(), q(d(r, "busy_s"), Unit::seconds),
               q(d(r, "forward_s"), Unit::seconds), q(d(r, "backward_s"), Unit::seconds),
               100 * d(r, "bubble_fraction"), q(d(r, "tp_comm_exposed_s"), Unit::seconds),
               q(d(r, "overlapped_comm_s"), Unit::seconds), q(d(r, "exposed_overlap_comm_s"), Unit::seconds),
               q(d(r, "comm_contention_s"), Unit::seconds), q(d(m, "total_bytes"), Unit::bytes),
               q(d(m, "weights_bytes"), Unit::bytes), q(d(m, "grads_bytes"), Unit::bytes),
               q(d(m, "optimizer_bytes"), Unit::bytes), q(d(m, "activations_bytes"), Unit::bytes),
               q(d(m, "kv_cache_bytes"), Unit::bytes),
               m["fits"].get<bool>()
                   ? ""
                   : fmt::format("  EXCEEDS the device's {}", q(d(m, "capacity_bytes"), Unit::bytes)));
  }
  if (!p["memory_fits"].get<bool>())
    fmt::print(os, "  warning: the memory footprint of some devices exceeds their capacity (see above)\n");
}

void write_system_simulation_text(std::ostream& os, const nlohmann::json& s) {
  auto q = [](double v, Unit u) { return format_quantity(v, u); };
  // The busiest channel of each kind (device ports, switches).
  std::string busiest;
  double top = -1;
  for (const auto& c : s["channels"])
    if (c["utilization"].get<double>() > top) {
      top = c["utilization"].get<double>();
      busiest = c["channel"].get<std::string>();
    }
  if (s.contains("whole_iteration")) {   // a parallel workload's iteration, every device a process
    fmt::print(os, "  devices    {} devices simulated as concurrent processes (the whole iteration, {} transfers); "
                   "they end between {} and {}; contention on shared ports {} (analytic schedule {}){}\n",
               s["devices"].get<long long>(), s["transfers"].get<long long>(),
               q(s["first_device_end_s"].get<double>(), Unit::seconds),
               q(s["last_device_end_s"].get<double>(), Unit::seconds), q(s["contention_s"].get<double>(), Unit::seconds),
               q(s["analytic_iteration_s"].get<double>(), Unit::seconds),
               busiest.empty() ? "" : fmt::format("; busiest channel {} at {:.1f} %", busiest, 100 * top));
    return;
  }
  fmt::print(os, "  devices    {} ranks simulated as concurrent processes; they end between {} and {}{}\n",
             s["ranks"].get<long long>(), q(s["first_rank_end_s"].get<double>(), Unit::seconds),
             q(s["last_rank_end_s"].get<double>(), Unit::seconds),
             busiest.empty() ? "" : fmt::format("; busiest channel {} at {:.1f} %", busiest, 100 * top));
}

void write_footprint_text(std::ostream& os, const nlohmann::json& m) {
  auto q = [&](const char* k) { return format_quantity(m[k].get<double>(), Unit::bytes); };
  const double cap = m["capacity_bytes"].get<double>();
  fmt::print(os, "  memory     {} resident{} (weights {}, gradients {}, optimizer {}, activations {}, KV cache {})\n",
             q("total_bytes"),
             cap > 0 ? fmt::format(" of {} {}", format_quantity(cap, Unit::bytes), m["memory_level"].get<std::string>())
                     : "",
             q("weights_bytes"), q("grads_bytes"), q("optimizer_bytes"), q("activations_bytes"), q("kv_cache_bytes"));
  if (!m["fits"].get<bool>())
    fmt::print(os, "  warning: the resident memory exceeds the device's capacity (run allowed by engine.allow_over_capacity)\n");
}

}  // namespace tessera
