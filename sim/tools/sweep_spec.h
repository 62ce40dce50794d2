#pragma once
// A sweep specification (`tessera sweep SPEC.yaml`, docs/sweeps.md) and the
// points it stands for.
//
//   hw: tpu-v1                      # a preset or file, or a list of them (an axis)
//   workload: gemm:m=512,n=512,k=512  # a spec or file, or a list
//   engine: analytic                # or a list
//   axes:                           # any settable path of `tessera list params`
//     compute.rows: [32, 64, 128]
//     memory.dram.bandwidth: {log_range: [10GB/s, 1TB/s], points: 5}
//     compute.clock: {range: [500MHz, 1GHz], points: 6}
//   sample: grid                    # grid | random:N | lhs:N
//   seed: 1                         # for random and lhs
//   where: "compute.rows * compute.cols <= 65536"
//   metrics: [time_s, energy_j, area_mm2]
//
// Every mistake is an InputError naming the file, the line and the key, raised
// while loading, before any point runs.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/params.h"
#include "sim/engines/engine.h"
#include "sim/tools/sweep_expr.h"

namespace tessera {

struct SweepAxis {
  std::string path;
  ParamSpec spec;                     // its declaration (as `list params` shows it)
  std::vector<std::string> values;    // as passed to --set
  std::vector<std::string> canonical; // numbers in SI base units, texts as written
  int line = 0;
};

enum class Sampling { grid, random, lhs };

struct SweepSpec {
  std::string file;
  std::vector<std::string> hws, workloads, engines;
  std::vector<SweepAxis> axes;
  Sampling sampling = Sampling::grid;
  int64_t sample_n = 0;               // random:N, lhs:N
  uint64_t seed = 1;
  std::optional<Expr> where;
  std::vector<std::string> metrics;
  std::string canonical;              // the spec in one canonical JSON text
  std::string hash;                   // 16 hex digits of `canonical`
  // One base parameter space per (hw, workload, engine), hw slowest, as loaded.
  std::vector<ParamSpace> bases;
  const ParamSpace& base(size_t hw, size_t wl, size_t eng) const {
    return bases[(hw * workloads.size() + wl) * engines.size() + eng];
  }
};

struct SweepPoint {
  int64_t seq = 0;                    // position in the spec's order (grid index for grids)
  size_t hw = 0, workload = 0, engine = 0;
  std::vector<size_t> value;          // index into each axis' values
  std::string id;                     // 16 hex digits: hash of the resolved parameters
};

// The metrics a sweep can record (docs/sweeps.md), in column order.
const std::vector<std::string>& sweep_metric_names();
// The metrics recorded when a spec lists none.
const std::vector<std::string>& sweep_default_metrics();

SweepSpec load_sweep_spec(const std::string& path);
// The spec's points after sampling and the `where` constraint, in spec order.
std::vector<SweepPoint> sweep_points(const SweepSpec& spec);
// "--set" arguments of a point: path=value per axis.
std::vector<std::string> point_sets(const SweepSpec& spec, const SweepPoint& p);

// 64-bit FNV-1a of `s` as 16 hex digits.
std::string hash_hex(const std::string& s);

// An ExprValue of a parameter's text: numbers (integer, real, quantity in SI
// base units, booleans as 0/1) or the text itself (choices, formats, words).
ExprValue param_expr_value(const ParamSpec& spec, const std::string& text);

}  // namespace tessera
