#include "models/systolic/systolic.h"
#include "core/math.h"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "models/systolic/demand.h"

namespace tessera::systolic {

namespace {

// numpy's pairwise summation (numpy/core/src/umath/loops_utils.h.src,
// pairwise_sum): SCALE-Sim averages its per-fold figures with np.mean, and the
// reports carry every digit, so the same rounding is reproduced here.
// Up to this many folds the per-fold means are summed exactly as numpy does.
constexpr std::int64_t kPairwiseFolds = 1 << 16;

// Values are generated from their index, so no per-fold storage is needed.
template <class F>
double pairwise_sum(const F& a, std::int64_t begin, std::int64_t n) {
  if (n < 8) {
    double res = 0.;
    for (std::int64_t i = 0; i < n; ++i) res += a(begin + i);
    return res;
  }
  if (n <= 128) {
    double r[8];
    for (std::int64_t j = 0; j < 8; ++j) r[j] = a(begin + j);
    std::int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (std::int64_t j = 0; j < 8; ++j) r[j] += a(begin + i + j);
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a(begin + i);
    return res;
  }
  std::int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(a, begin, n2) + pairwise_sum(a, begin + n2, n - n2);
}
}  // namespace

std::string_view dataflow_name(Dataflow d) {
  switch (d) {
    case Dataflow::os: return "os";
    case Dataflow::ws: return "ws";
    case Dataflow::is: return "is";
  }
  return "?";
}

std::string_view bandwidth_mode_name(BandwidthMode m) {
  return m == BandwidthMode::calc ? "CALC" : "USER";
}

Layer Layer::from_gemm(std::string name, std::int64_t m, std::int64_t n, std::int64_t k) {
  // topology_utils.load_arrays_gemm: entries = [m, k, 1, k, 1, n, 1, 1].
  Layer l;
  l.name = std::move(name);
  l.ifmap_h = m;
  l.ifmap_w = k;
  l.filter_h = 1;
  l.filter_w = k;
  l.channels = 1;
  l.num_filters = n;
  l.stride_h = 1;
  l.stride_w = 1;
  return l;
}

// topology_utils.topo_calc_hyperparams: ceil((ifmap - filter + stride) / stride).
std::int64_t Layer::ofmap_h() const { return ceil_div(ifmap_h - filter_h + stride_h, stride_h); }
std::int64_t Layer::ofmap_w() const { return ceil_div(ifmap_w - filter_w + stride_w, stride_w); }

std::int64_t fold_cycles(std::int64_t rows, std::int64_t cols, Dataflow df, std::int64_t t) {
  return df == Dataflow::os ? t + rows + cols - 2 : 2 * rows + cols + t - 2;
}

FoldGeometry fold_geometry(std::int64_t R, std::int64_t C, Dataflow df, const Layer& layer) {
  FoldGeometry g;
  const std::int64_t P = layer.ofmap_pixels(), K = layer.window(), N = layer.num_filters;
  switch (df) {
    case Dataflow::os: g.sr = P; g.sc = N; g.t = K; break;
    case Dataflow::ws: g.sr = K; g.sc = N; g.t = P; break;
    case Dataflow::is: g.sr = K; g.sc = P; g.t = N; break;
  }
  g.row_folds = ceil_div(g.sr, R);
  g.col_folds = ceil_div(g.sc, C);
  if (df == Dataflow::os) {
    // systolic_compute_os: ifmap tile T lines + (C-1) drain lines, skewed over R
    // columns: T + C - 1 + R - 1. The utilization window is the ofmap block:
    // (T-1 prefix + R tile rows) + C columns - 1 = T + R + C - 2 as well.
    g.cycles_per_fold = fold_cycles(R, C, df, g.t);
    g.util_cycles_per_fold = g.t + R + C - 2;
  } else {
    // systolic_compute_ws / _is: R load lines + T stream lines + (C-1) drain lines,
    // skewed over R columns: 2R + C + T - 2. Utilization window: the unskewed
    // stationary-operand block (R + R+C+T-2 lines) + C columns - 1 = 2R + 2C + T - 3.
    g.cycles_per_fold = fold_cycles(R, C, df, g.t);
    g.util_cycles_per_fold = 2 * R + 2 * C + g.t - 3;
  }
  return g;
}

namespace {

void validate(const ArrayConfig& cfg, const Layer& layer) {
  if (cfg.rows < 1 || cfg.cols < 1 || cfg.cores < 1)
    throw std::invalid_argument("systolic: rows, cols and cores must be >= 1");
  if (cfg.word_bytes < 1) throw std::invalid_argument("systolic: word_bytes must be >= 1");
  if (layer.ifmap_h < 1 || layer.ifmap_w < 1 || layer.filter_h < 1 || layer.filter_w < 1 ||
      layer.channels < 1 || layer.num_filters < 1 || layer.stride_h < 1 || layer.stride_w < 1)
    throw std::invalid_argument("systolic: layer '" + layer.name + "' has a dimension < 1");
  if (layer.filter_h > layer.ifmap_h || layer.filter_w > layer.ifmap_w)
    throw std::invalid_argument("systolic: layer '" + layer.name + "' filter larger than ifmap");
}

// Words of each operand a fold touches, for the analytic DRAM model.
struct FoldTraffic {
  std::int64_t ifmap = 0, filter = 0, ofmap = 0;
  std::int64_t ifmap_tile = 0, filter_tile = 0;  // tile identity (changes -> refetch)
};

FoldTraffic fold_traffic(const FoldGeometry& g, Dataflow df, std::int64_t R, std::int64_t C,
                         std::int64_t fr, std::int64_t fc) {
  const std::int64_t ru = std::min(R, g.sr - fr * R), cu = std::min(C, g.sc - fc * C);
  FoldTraffic t;
  switch (df) {
    case Dataflow::os:  // ifmap rows fr (ru x K), filter cols fc (K x cu), ofmap ru x cu
      t.ifmap = ru * g.t; t.filter = g.t * cu; t.ofmap = ru * cu;
      t.ifmap_tile = fr; t.filter_tile = fc;
      break;
    case Dataflow::ws:  // ifmap cols fr (P x ru), filter ru x cu, ofmap P x cu (partial sums)
      t.ifmap = g.t * ru; t.filter = ru * cu; t.ofmap = g.t * cu;
      t.ifmap_tile = fr; t.filter_tile = fc * g.row_folds + fr;
      break;
    case Dataflow::is:  // ifmap ru x cu, filter rows fr (ru x N), ofmap cu x N (partial sums)
      t.ifmap = ru * cu; t.filter = ru * g.t; t.ofmap = g.t * cu;
      t.ifmap_tile = fc * g.row_folds + fr; t.filter_tile = fr;
      break;
  }
  return t;
}

}  // namespace

LayerResult simulate_layer(const ArrayConfig& cfg, const Layer& layer) {
  validate(cfg, layer);
  const std::int64_t R = cfg.rows, C = cfg.cols;
  const FoldGeometry g = fold_geometry(R, C, cfg.dataflow, layer);
  LayerResult r;
  r.macs = layer.macs();

  // Mapping efficiency and compute utilization: means over folds of
  // used/(R*C) and used*T/(R*C*util_cycles) (systolic_compute_*.py). Folds are
  // visited in SCALE-Sim's order so the floating-point sums match.
  // Fold i is column fold i / row_folds, row fold i % row_folds.
  const auto used_in = [&](std::int64_t i) {
    const std::int64_t fc = i / g.row_folds, fr = i % g.row_folds;
    return std::min(R, g.sr - fr * R) * std::min(C, g.sc - fc * C);
  };
  const auto map_f = [&](std::int64_t i) {
    return static_cast<double>(used_in(i)) / static_cast<double>(R * C);
  };
  const auto util_f = [&](std::int64_t i) {
    return static_cast<double>(used_in(i) * g.t) /
           static_cast<double>(R * C * g.util_cycles_per_fold);
  };
  const std::int64_t nfolds = g.row_folds * g.col_folds;
  const double nf = static_cast<double>(nfolds);
  if (nfolds <= kPairwiseFolds) {
    r.mapping_efficiency = pairwise_sum(map_f, 0, nfolds) / nf * 100;
    r.compute_utilization = pairwise_sum(util_f, 0, nfolds) / nf * 100;
  } else {
    // Many folds: only four fold classes exist (last row fold or not x last
    // column fold or not), so the mean is their count-weighted sum. Equal to
    // numpy's result up to the last bits of the double.
    const std::int64_t rf = g.row_folds, cf = g.col_folds;
    const std::int64_t idx[4] = {0, rf - 1, (cf - 1) * rf, cf * rf - 1};
    const std::int64_t cnt[4] = {(rf - 1) * (cf - 1), cf - 1, rf - 1, 1};
    double ms = 0, us = 0;
    for (int c = 0; c < 4; ++c) {
      ms += static_cast<double>(cnt[c]) * map_f(idx[c]);
      us += static_cast<double>(cnt[c]) * util_f(idx[c]);
    }
    r.mapping_efficiency = ms / nf * 100;
    r.compute_utilization = us / nf * 100;
  }

  // Cores: column folds are dealt out round-robin; the busiest core sets the time.
  const std::int64_t cores = std::min(cfg.cores, g.col_folds);
  const std::int64_t cf_max = ceil_div(g.col_folds, cores);
  r.folds = cf_max * g.row_folds;
  // SCALE-Sim's Total Cycles is the index of the last demand line (lines - 1).
  r.compute_cycles = r.folds * g.cycles_per_fold - 1;

  // SRAM requests, as counted by systolic_compute_*.py.
  switch (cfg.dataflow) {
    case Dataflow::os:
      r.ifmap_sram_reads = g.col_folds * g.sr * g.t;
      r.filter_sram_reads = g.row_folds * g.t * g.sc;
      // systolic_compute_os.create_ofmap_demand_mat adds shape[0] + shape[1] = R + C
      // per fold on top of the tile size; kept so BANDWIDTH_REPORT matches SCALE-Sim.
      r.ofmap_sram_writes = g.sr * g.sc + g.row_folds * g.col_folds * (R + C);
      break;
    case Dataflow::ws:
      r.ifmap_sram_reads = g.col_folds * g.t * g.sr;
      r.filter_sram_reads = g.sr * g.sc;
      r.ofmap_sram_writes = g.row_folds * g.t * g.sc;
      break;
    case Dataflow::is:
      r.ifmap_sram_reads = g.sr * g.sc;
      r.filter_sram_reads = g.col_folds * g.sr * g.t;
      r.ofmap_sram_writes = g.row_folds * g.t * g.sc;
      break;
  }

  // SRAM windows: first/last demand line of each operand, serviced after the
  // SRAM hit latency (1 cycle for the read buffers, 0 for the write buffer).
  // With several cores these refer to core 0's schedule.
  const detail::DemandView view(R, C, cfg.dataflow, layer, 0, 10000000, 20000000);
  using detail::Operand;
  {
    const auto first_last = [&](Operand op, double lat, double& start, double& stop) {
      const std::int64_t f = view.first_line(op), l = view.last_line(op);
      start = f < 0 ? 0 : static_cast<double>(f) + lat;
      stop = l < 0 ? 0 : static_cast<double>(l) + lat;
    };
    first_last(Operand::ifmap, 1, r.ifmap_sram_start, r.ifmap_sram_stop);
    first_last(Operand::filter, 1, r.filter_sram_start, r.filter_sram_stop);
    first_last(Operand::ofmap, 0, r.ofmap_sram_start, r.ofmap_sram_stop);
  }

  // The replay walks every demand line of every fold, address by address: its
  // cost grows with folds x cycles per fold x array width. Beyond kMaxReplayWork
  // addresses (about a second) the analytic model below, a closed
  // form, is used instead, so that the time to simulate stays bounded.
  constexpr long double kMaxReplayWork = 1L << 30;
  const long double replay_work =
      static_cast<long double>(view.folds()) * static_cast<long double>(g.cycles_per_fold) *
      static_cast<long double>(view.width(detail::Operand::ifmap) + view.width(detail::Operand::filter) +
                               view.width(detail::Operand::ofmap));
  const bool replay = cfg.dram_model == DramModel::scalesim_replay &&
                      cfg.bandwidth_mode == BandwidthMode::calc && cfg.cores == 1 &&
                      replay_work <= kMaxReplayWork;
  if (replay) {
    ArrayConfig words = cfg;  // SCALE-Sim sizes its buffers in words of word_bytes
    words.ifmap_sram_bytes = cfg.ifmap_sram_bytes / cfg.word_bytes;
    words.filter_sram_bytes = cfg.filter_sram_bytes / cfg.word_bytes;
    words.ofmap_sram_bytes = cfg.ofmap_sram_bytes / cfg.word_bytes;
    const detail::ReplayResult rr = detail::replay_scalesim_calc(view, words);
    r.stall_cycles = rr.stall_cycles;
    r.total_cycles = rr.total_cycles;
    r.ifmap_dram_reads = rr.ifmap_dram_reads;
    r.filter_dram_reads = rr.filter_dram_reads;
    r.ofmap_dram_writes = rr.ofmap_dram_writes;
    r.ifmap_dram_start = rr.ifmap_dram_start;
    r.ifmap_dram_stop = rr.ifmap_dram_stop;
    r.filter_dram_start = rr.filter_dram_start;
    r.filter_dram_stop = rr.filter_dram_stop;
    r.ofmap_dram_start = rr.ofmap_dram_start;
    r.ofmap_dram_stop = rr.ofmap_dram_stop;
  } else {
    // Analytic double-buffered model. Each operand's SRAM is split in two
    // halves: one serves the array, the other is filled for the next fold.
    //  * Reuse: if an operand's whole footprint fits one half it is fetched once;
    //    otherwise a fold's tile is fetched whenever the tile differs from the
    //    previous fold's (SCALE-Sim's fold order, column folds outer).
    //  * Partial sums (ws, is) stay on chip when one column fold's outputs fit
    //    half the ofmap SRAM; otherwise every fold writes its partial sums out.
    //  * USER mode: the next fold's new words arrive at dram_words_per_cycle/cores
    //    per operand (ifmap and filter have their own ports, as in SCALE-Sim)
    //    while the current fold computes; whatever does not fit in that time
    //    stalls the array. The first fold is prefetched before cycle 0.
    const std::int64_t wb = cfg.word_bytes;
    const std::int64_t half_if = cfg.ifmap_sram_bytes / wb / 2;
    const std::int64_t half_fl = cfg.filter_sram_bytes / wb / 2;
    const std::int64_t half_of = cfg.ofmap_sram_bytes / wb / 2;
    const std::int64_t ifmap_unique = layer.ifmap_h * layer.ifmap_w * layer.channels;
    const std::int64_t filter_unique = layer.window() * layer.num_filters;
    const bool if_resident = ifmap_unique <= half_if * cores;
    const bool fl_resident = filter_unique <= half_fl * cores;
    const bool psum_resident =
        cfg.dataflow == Dataflow::os || g.t * std::min(C, g.sc) <= half_of;
    const double bw = cfg.dram_words_per_cycle / static_cast<double>(cfg.cores);
    std::int64_t if_reads = 0, fl_reads = 0, of_writes = 0, stall = 0, first_fetch = 0;
    for (std::int64_t core = 0; core < cores && cfg.bandwidth_mode == BandwidthMode::calc;
         ++core) {
      // CALC: no stalls, so only the word totals are needed, in closed form.
      // Core `core` owns column folds core, core + cores, ...; ncf of them with
      // sc_core columns in all. Tiles keyed by fr change on every fold when
      // there are several row folds, else only on the core's first fold.
      // (closed form: every column fold is C wide but the last, sc - last * C)
      const std::int64_t ncf = core < g.col_folds ? (g.col_folds - core + cores - 1) / cores : 0;
      const std::int64_t last = g.col_folds - 1;
      const std::int64_t sc_core =
          ncf == 0 ? 0 : (last - core) % cores == 0 ? (ncf - 1) * C + (g.sc - last * C) : ncf * C;
      const std::int64_t by_fr = g.row_folds > 1 ? ncf : 1;  // fetches of an fr-keyed tile set
      switch (cfg.dataflow) {
        case Dataflow::os:
          if_reads += by_fr * g.sr * g.t;  // ifmap tile = fr
          fl_reads += g.t * sc_core;       // filter tile = fc: once per column fold
          break;
        case Dataflow::ws:
          if_reads += by_fr * g.t * g.sr;  // ifmap tile = fr
          fl_reads += g.sr * sc_core;      // every fold has its own filter tile
          break;
        case Dataflow::is:
          if_reads += g.sr * sc_core;      // every fold has its own ifmap tile
          fl_reads += by_fr * g.sr * g.t;  // filter tile = fr
          break;
      }
      of_writes += (psum_resident ? 1 : g.row_folds) * g.t * sc_core;
    }
    // USER: fold by fold in SCALE-Sim's order (column folds outer), in closed
    // form over runs of identical folds. A fold's effect (words fetched, stall)
    // depends only on its traffic (the same for every fold but the last row and
    // column fold, which may be partial) and on whether its tiles differ from the
    // previous fold's (the same for every fold of a run: tile ids are fr, fc or
    // fc * row_folds + fr). So within a column fold, folds 2 .. row_folds-2 repeat
    // fold 1 exactly, and the column folds of a core between its second and its
    // second-to-last repeat its second: the cost is constant in the fold counts.
    for (std::int64_t core = 0; core < cores && cfg.bandwidth_mode == BandwidthMode::user;
         ++core) {
      std::int64_t prev_if = -1, prev_fl = -1, core_stall = 0;
      std::int64_t prev_fold_cycles = 0;
      bool first = true;
      const auto step = [&](std::int64_t fc, std::int64_t fr) {
        const FoldTraffic t = fold_traffic(g, cfg.dataflow, R, C, fr, fc);
        std::int64_t new_if = 0, new_fl = 0;
        if (!if_resident && t.ifmap_tile != prev_if) new_if = t.ifmap;
        if (!fl_resident && t.filter_tile != prev_fl) new_fl = t.filter;
        prev_if = t.ifmap_tile;
        prev_fl = t.filter_tile;
        if_reads += new_if;
        fl_reads += new_fl;
        if (!psum_resident || fr == g.row_folds - 1) of_writes += t.ofmap;
        const auto fetch = static_cast<std::int64_t>(
            static_cast<double>(std::max(new_if, new_fl)) / bw + 0.999999999);
        if (first) {
          if (core == 0) first_fetch = fetch;
        } else {
          core_stall += std::max<std::int64_t>(0, fetch - prev_fold_cycles);
        }
        first = false;
        prev_fold_cycles = g.cycles_per_fold;
      };
      // Runs `body` once, then adds `times - 1` more copies of its effect on the
      // accumulators (the body must leave the tiles as its repeats would).
      const auto repeat = [&](std::int64_t times, const auto& body) {
        const std::int64_t a = if_reads, b = fl_reads, c = of_writes, d = core_stall;
        body();
        if_reads += (times - 1) * (if_reads - a);
        fl_reads += (times - 1) * (fl_reads - b);
        of_writes += (times - 1) * (of_writes - c);
        core_stall += (times - 1) * (core_stall - d);
      };
      const auto set_tiles_after = [&](std::int64_t fc, std::int64_t fr) {
        const FoldTraffic t = fold_traffic(g, cfg.dataflow, R, C, fr, fc);
        prev_if = t.ifmap_tile;
        prev_fl = t.filter_tile;
      };
      const std::int64_t rf = g.row_folds;
      const auto column = [&](std::int64_t fc) {
        if (rf <= 4) {
          for (std::int64_t fr = 0; fr < rf; ++fr) step(fc, fr);
          return;
        }
        step(fc, 0);
        repeat(rf - 2, [&] { step(fc, 1); });   // folds 1 .. rf-2
        set_tiles_after(fc, rf - 2);
        step(fc, rf - 1);
      };
      const std::int64_t ncf = core < g.col_folds ? (g.col_folds - core + cores - 1) / cores : 0;
      const auto fc_of = [&](std::int64_t j) { return core + j * cores; };
      if (ncf <= 4) {
        for (std::int64_t j = 0; j < ncf; ++j) column(fc_of(j));
      } else {
        column(fc_of(0));
        repeat(ncf - 2, [&] { column(fc_of(1)); });   // column folds 1 .. ncf-2
        set_tiles_after(fc_of(ncf - 2), rf - 1);
        column(fc_of(ncf - 1));
      }
      stall = std::max(stall, core_stall);
    }
    if (if_resident) if_reads = ifmap_unique;
    if (fl_resident) fl_reads = filter_unique;
    r.ifmap_dram_reads = if_reads;
    r.filter_dram_reads = fl_reads;
    r.ofmap_dram_writes = cfg.dataflow == Dataflow::os ? g.sr * g.sc : of_writes;
    r.stall_cycles = cfg.bandwidth_mode == BandwidthMode::user ? stall : 0;
    r.total_cycles = r.compute_cycles + r.stall_cycles;
    // DRAM windows: reads start when the first fold is prefetched and end with
    // the compute; writes follow the first ofmap SRAM write to the end.
    const double pre =
        cfg.bandwidth_mode == BandwidthMode::user ? static_cast<double>(first_fetch) : 0.0;
    r.ifmap_dram_start = -pre;
    r.filter_dram_start = -pre;
    r.ifmap_dram_stop = static_cast<double>(r.total_cycles);
    r.filter_dram_stop = static_cast<double>(r.total_cycles);
    r.ofmap_dram_start = r.ofmap_sram_start;
    r.ofmap_dram_stop = static_cast<double>(r.total_cycles);
  }

  const double tc = static_cast<double>(r.total_cycles);
  r.overall_utilization = static_cast<double>(r.macs) * 100 /
                          (tc * static_cast<double>(R * C * cfg.cores));
  r.avg_ifmap_sram_bw = static_cast<double>(r.ifmap_sram_reads) / tc;
  r.avg_filter_sram_bw = static_cast<double>(r.filter_sram_reads) / tc;
  r.avg_ofmap_sram_bw = static_cast<double>(r.ofmap_sram_writes) / tc;
  r.avg_ifmap_dram_bw =
      static_cast<double>(r.ifmap_dram_reads) / (r.ifmap_dram_stop - r.ifmap_dram_start + 1);
  r.avg_filter_dram_bw =
      static_cast<double>(r.filter_dram_reads) / (r.filter_dram_stop - r.filter_dram_start + 1);
  r.avg_ofmap_dram_bw =
      static_cast<double>(r.ofmap_dram_writes) / (r.ofmap_dram_stop - r.ofmap_dram_start + 1);
  return r;
}

std::int64_t rtl_cycles(std::int64_t rows, std::int64_t cols, Dataflow df, std::int64_t m,
                        std::int64_t n, std::int64_t k) {
  // The RTL runs SCALE-Sim's schedule fold by fold: folds * cycles_per_fold
  // edges. Output stationary adds one edge after the last fold, in which the
  // last fold's sums are copied out of the PEs (earlier folds copy theirs in the
  // first cycle of the next fold, overlapped with its start).
  const FoldGeometry g = fold_geometry(rows, cols, df, Layer::from_gemm("rtl", m, n, k));
  const std::int64_t folds = g.row_folds * g.col_folds;
  return folds * g.cycles_per_fold + (df == Dataflow::os ? 1 : 0);
}

std::vector<std::int64_t> matmul_reference(const std::vector<std::int64_t>& a,
                                           const std::vector<std::int64_t>& b, std::int64_t m,
                                           std::int64_t n, std::int64_t k, int acc_bits) {
  if (static_cast<std::int64_t>(a.size()) != m * k || static_cast<std::int64_t>(b.size()) != k * n)
    throw std::invalid_argument("matmul_reference: operand sizes do not match m, n, k");
  if (acc_bits < 2 || acc_bits > 63) throw std::invalid_argument("matmul_reference: acc_bits");
  const std::uint64_t mask = (std::uint64_t{1} << acc_bits) - 1;
  const auto wrap = [&](std::uint64_t v) {
    v &= mask;
    if (v >> (acc_bits - 1)) return static_cast<std::int64_t>(v | ~mask);
    return static_cast<std::int64_t>(v);
  };
  // Two's complement addition is associative modulo 2^acc_bits, so summing in
  // k order gives the value every dataflow's fold order produces.
  std::vector<std::int64_t> c(static_cast<std::size_t>(m * n), 0);
  for (std::int64_t i = 0; i < m; ++i)
    for (std::int64_t j = 0; j < n; ++j) {
      std::uint64_t acc = 0;
      for (std::int64_t kk = 0; kk < k; ++kk)
        acc += static_cast<std::uint64_t>(a[static_cast<std::size_t>(i * k + kk)] *
                                          b[static_cast<std::size_t>(kk * n + j)]);
      c[static_cast<std::size_t>(i * n + j)] = wrap(acc);
    }
  return c;
}

}  // namespace tessera::systolic
