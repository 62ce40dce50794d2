#pragma once
// Systolic MAC array model (issue "Systolic MAC array").
//
// A pure model of an R x C array of multiply-accumulate processing elements with
// output-, weight- and input-stationary dataflows, double-buffered operand
// scratchpads and an off-chip interface. Nothing here knows about SystemC and
// nothing keeps hidden state: every answer is a function of its arguments.
//
// Timing contract (docs/systolic.md derives every term):
//  * Layers are lowered to SCALE-Sim v2's operand-matrix view: an ifmap matrix
//    of P x K (P = ofmap pixels, K = filter window = Fh*Fw*Ch), a filter matrix
//    of K x N (N = filters) and an ofmap matrix of P x N.
//  * A dataflow picks which dimension is spatial along the rows (Sr), which along
//    the columns (Sc) and which is temporal (T):
//        os: Sr = P, Sc = N, T = K     ws: Sr = K, Sc = N, T = P
//        is: Sr = K, Sc = P, T = N
//  * The operands are folded onto the array in ceil(Sr/R) * ceil(Sc/C) folds.
//    A fold occupies  T + R + C - 2  cycles (os) or  2R + C + T - 2  (ws, is):
//    fill, stream and drain, exactly the row count of SCALE-Sim's demand matrices.
//  * compute_cycles = folds * cycles_per_fold - 1, which equals SCALE-Sim v2's
//    "Total Cycles" in CALC bandwidth mode (its last serviced ofmap line index).
//
// Stable integration API: Dataflow, ArrayConfig, Layer, LayerResult,
// simulate_layer, EnergyParams, action_energies, action_counts, energy_of,
// ScaleSimConfig, parse_scalesim_cfg, parse_scalesim_topology,
// write_scalesim_reports.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace tessera::systolic {

enum class Dataflow { os, ws, is };

// CALC: SCALE-Sim's "estimate the bandwidth" mode -- the array never stalls and
// the DRAM bandwidth each buffer would need is reported. USER: the off-chip
// interface delivers `dram_words_per_cycle` and slow prefetches stall the array.
enum class BandwidthMode { calc, user };

// How DRAM traffic is obtained.
//  analytic:  closed form per fold (O(folds) time and memory, any layer size).
//  scalesim_replay: replays SCALE-Sim v2's CALC-mode buffer bookkeeping over the
//             exact operand address stream, so DRAM counts, start/stop cycles and
//             average DRAM bandwidths equal SCALE-Sim's reports. Time grows with the
//             number of operand reads; memory stays bounded by the SRAM sizes.
//             Only meaningful with BandwidthMode::calc and cores == 1.
enum class DramModel { analytic, scalesim_replay };

std::string_view dataflow_name(Dataflow d);
std::string_view bandwidth_mode_name(BandwidthMode m);

struct ArrayConfig {
  std::int64_t rows = 32;                       // PE rows (SCALE-Sim ArrayHeight)
  std::int64_t cols = 32;                       // PE columns (SCALE-Sim ArrayWidth)
  Dataflow dataflow = Dataflow::os;             // which operand stays in the PEs
  std::int64_t ifmap_sram_bytes = 64 * 1024;    // ifmap scratchpad, both halves, bytes
  std::int64_t filter_sram_bytes = 64 * 1024;   // filter scratchpad, both halves, bytes
  std::int64_t ofmap_sram_bytes = 64 * 1024;    // ofmap scratchpad, both halves, bytes
  std::int64_t word_bytes = 1;                  // bytes per operand word (SCALE-Sim: 1)
  double dram_words_per_cycle = 10;             // off-chip words/cycle per buffer, USER mode
  BandwidthMode bandwidth_mode = BandwidthMode::calc;
  DramModel dram_model = DramModel::analytic;
  std::int64_t cores = 1;                       // arrays per chip sharing SRAM and DRAM
  double clock_hz = 1e9;                        // array clock, Hz (for seconds / energy rate)
  tessera::DType dtype = tessera::DType::int8;  // operand format (energy only)
};

// A layer in SCALE-Sim's convolution form. GEMM layers use from_gemm().
struct Layer {
  std::string name;
  std::int64_t ifmap_h = 1, ifmap_w = 1;
  std::int64_t filter_h = 1, filter_w = 1;
  std::int64_t channels = 1;
  std::int64_t num_filters = 1;
  std::int64_t stride_h = 1, stride_w = 1;

  // SCALE-Sim v2 (topology_utils.load_arrays_gemm) maps M x K times K x N onto a
  // convolution with ifmap M x K, filter 1 x K, one channel, N filters, stride 1,
  // so that P = M ofmap pixels, window K and N filters.
  static Layer from_gemm(std::string name, std::int64_t m, std::int64_t n, std::int64_t k);

  // ceil((ifmap - filter + stride) / stride), as SCALE-Sim computes it.
  std::int64_t ofmap_h() const;
  std::int64_t ofmap_w() const;
  std::int64_t ofmap_pixels() const { return ofmap_h() * ofmap_w(); }  // P
  std::int64_t window() const { return filter_h * filter_w * channels; }  // K
  std::int64_t macs() const { return ofmap_pixels() * window() * num_filters; }
};

// Operand-matrix dimensions for one dataflow (see the header comment).
struct FoldGeometry {
  std::int64_t sr = 0, sc = 0, t = 0;       // spatial rows, spatial cols, temporal
  std::int64_t row_folds = 0, col_folds = 0;
  std::int64_t cycles_per_fold = 0;         // demand-matrix rows per fold
  std::int64_t util_cycles_per_fold = 0;    // SCALE-Sim's cycles_this_fold (utilization)
};
FoldGeometry fold_geometry(std::int64_t rows, std::int64_t cols, Dataflow df, const Layer& layer);
// Cycles of one fold of an R x C array streaming a temporal length T (the
// demand-matrix rows of SCALE-Sim's systolic_compute_*; derivation in systolic.cpp):
// os: T + R + C - 2; ws / is: 2R + C + T - 2.
std::int64_t fold_cycles(std::int64_t rows, std::int64_t cols, Dataflow df, std::int64_t t);

struct LayerResult {
  std::int64_t compute_cycles = 0;   // stall-free cycles (SCALE-Sim CALC "Total Cycles")
  std::int64_t stall_cycles = 0;     // cycles lost to prefetches that were not ready
  std::int64_t total_cycles = 0;     // compute_cycles + stall_cycles
  double mapping_efficiency = 0;     // %, mean over folds of used PEs / all PEs
  double compute_utilization = 0;    // %, mean over folds of MACs / (PEs * fold cycles)
  double overall_utilization = 0;    // %, layer MACs / (total_cycles * PEs)
  std::int64_t macs = 0;             // useful multiply-accumulates
  std::int64_t folds = 0;            // folds on the busiest core

  // Per-operand word counts. SRAM reads/writes are what the array requests;
  // DRAM reads/writes are what the scratchpads move over the off-chip interface.
  std::int64_t ifmap_sram_reads = 0, filter_sram_reads = 0, ofmap_sram_writes = 0;
  std::int64_t ifmap_dram_reads = 0, filter_dram_reads = 0, ofmap_dram_writes = 0;

  // Cycle windows (SCALE-Sim DETAILED_ACCESS_REPORT). SRAM cycles are when the
  // first/last request of the operand is serviced; DRAM cycles may be negative
  // (prefetch before the array starts).
  double ifmap_sram_start = 0, ifmap_sram_stop = 0;
  double filter_sram_start = 0, filter_sram_stop = 0;
  double ofmap_sram_start = 0, ofmap_sram_stop = 0;
  double ifmap_dram_start = 0, ifmap_dram_stop = 0;
  double filter_dram_start = 0, filter_dram_stop = 0;
  double ofmap_dram_start = 0, ofmap_dram_stop = 0;

  // Average bandwidths in words/cycle, as in BANDWIDTH_REPORT.csv: SRAM counts
  // over total_cycles, DRAM counts over (stop - start + 1) of their window.
  double avg_ifmap_sram_bw = 0, avg_filter_sram_bw = 0, avg_ofmap_sram_bw = 0;
  double avg_ifmap_dram_bw = 0, avg_filter_dram_bw = 0, avg_ofmap_dram_bw = 0;
};

LayerResult simulate_layer(const ArrayConfig& cfg, const Layer& layer);

// Cycle count of the RTL anchor (models/systolic/rtl) for one matrix product
// A (m x k) * B (k x n) on this array, from reset release to the cycle `done` is
// seen. Derived from the same fold arithmetic as simulate_layer; see
// docs/systolic.md for the fixed offset between the two.
std::int64_t rtl_cycles(std::int64_t rows, std::int64_t cols, Dataflow df, std::int64_t m,
                        std::int64_t n, std::int64_t k);

// Functional model: C = A * B with integer operands, accumulated in `acc_bits`
// two's complement (wrapping), as the RTL's accumulators do. Row-major matrices.
// Wrapping addition is associative, so the value does not depend on the fold
// order a dataflow accumulates in.
std::vector<std::int64_t> matmul_reference(const std::vector<std::int64_t>& a,
                                           const std::vector<std::int64_t>& b, std::int64_t m,
                                           std::int64_t n, std::int64_t k, int acc_bits);

// ---------------------------------------------------------------------------
// Energy. Defaults: Horowitz, "Computing's energy problem (and what we can do
// about it)", ISSCC 2014, 45 nm figures, scaled to `node_nm` (see energy.cpp).
struct EnergyParams {
  double node_nm = 45;              // process node the energies are scaled to, nm
  double supply_v = 0.9;            // supply voltage at node_nm, V (45 nm reference: 0.9 V)
  double mac_pj_override = -1;      // pJ per MAC at node_nm; < 0: use the per-format table
  double sram_read_pj_per_byte = -1;   // pJ per SRAM byte read; < 0: from SRAM size (Horowitz)
  double sram_write_pj_per_byte = -1;  // pJ per SRAM byte written; < 0: equal to read
  double dram_pj_per_byte = 243.75;    // pJ per off-chip byte at 45 nm (1.95 nJ / 64 bit, mid of 1.3-2.6)
  double leakage_pj_per_pe_cycle = 0.01;  // pJ per PE per cycle at 45 nm (assumption, docs)
};

struct EnergyBreakdown {
  double mac_pj = 0;      // compute
  double sram_pj = 0;     // all scratchpad reads and writes
  double dram_pj = 0;     // off-chip traffic
  double leakage_pj = 0;  // PEs * cores * total cycles
  double total_pj() const { return mac_pj + sram_pj + dram_pj + leakage_pj; }
};

// pJ of one MAC in `t` at 45 nm (Horowitz multiply + add; see energy.cpp).
// Silicon area (models/systolic/area.cpp, each constant's source there). A PE is
// its multiplier (operand format) and accumulator adder at 45 nm, times
// `pe_overhead` for its registers, pipeline and wiring, scaled by (node/45)^2;
// a scratchpad is `sram_mm2_per_kib_28nm` per KiB scaled by (node/28)^2, +30 %
// per port beyond the first. The defaults are fitted on the TPU v1 floor plan
// (Jouppi et al., ISCA 2017, Fig. 2; die < 331 mm^2 in 28 nm): the matrix unit is
// 24 % of the die = 79.4 mm^2 for 65,536 int8 PEs = 1212 um^2 a PE, against
// (282 + 137) um^2 * (28/45)^2 = 162 um^2 of arithmetic: pe_overhead 7.5; the
// 24 MiB unified buffer is 29 % = 96.0 mm^2 = 0.0039 mm^2 per KiB.
struct AreaParams {
  double node_nm = 45;
  double pe_overhead = 7.5;
  double sram_mm2_per_kib_28nm = 0.0039;
  std::int64_t sram_ports = 1;
};
double multiplier_area_45nm_um2(tessera::DType t);
double adder_area_45nm_um2(tessera::DType acc);
double pe_area_mm2(const AreaParams& a, tessera::DType operand, tessera::DType acc);
double sram_area_mm2(const AreaParams& a, double bytes);

double mac_energy_45nm_pj(tessera::DType t);
// pJ per byte of an SRAM of `bytes` at 45 nm: log-linear between Horowitz's
// 8 KB (10 pJ / 64 bit), 32 KB (20 pJ) and 1 MB (100 pJ) points.
double sram_energy_45nm_pj_per_byte(std::int64_t bytes);
// Factor applied to 45 nm energies: (node/45) * (V/0.9)^2 (constant-field scaling).
double node_scale(const EnergyParams& p);

// Energy of one action at the configured node (pJ): the one place these figures
// are defined. energy_of and the `systolic` compute component
// (models/compute/systolic_array.cpp) multiply them by their action counts.
struct ActionEnergies {
  double mac_pj = 0;                  // one MAC in cfg.dtype
  double ifmap_read_pj_per_byte = 0;  // per scratchpad, at its own size
  double ifmap_write_pj_per_byte = 0;
  double filter_read_pj_per_byte = 0;
  double filter_write_pj_per_byte = 0;
  double ofmap_read_pj_per_byte = 0;
  double ofmap_write_pj_per_byte = 0;
  double dram_pj_per_byte = 0;  // not node-scaled
  double leakage_pj_per_pe_cycle = 0;
};
ActionEnergies action_energies(const EnergyParams& p, const ArrayConfig& cfg);

// What a layer (or a kernel of layers) does, in actions that cost energy.
// Scratchpad counts are words: the array's requests plus the fills (writes) and
// drains (reads) on the DRAM side.
struct ActionCounts {
  double macs = 0;
  double ifmap_sram_reads = 0, ifmap_sram_writes = 0;
  double filter_sram_reads = 0, filter_sram_writes = 0;
  double ofmap_sram_reads = 0, ofmap_sram_writes = 0;
  double dram_words = 0;
  double pe_cycles = 0;  // PEs * cores * total cycles
};
ActionCounts action_counts(const ArrayConfig& cfg, const LayerResult& r);

EnergyBreakdown energy_of(const EnergyParams& p, const ArrayConfig& cfg, const ActionCounts& n);
EnergyBreakdown energy_of(const EnergyParams& p, const ArrayConfig& cfg, const LayerResult& r);

// ---------------------------------------------------------------------------
// SCALE-Sim I/O. Errors throw tessera::InputError naming file, line/key, value
// and what is accepted.
struct ScaleSimConfig {
  std::string run_name;
  ArrayConfig array;                 // sizes converted from kB (1024 bytes)
  std::int64_t ifmap_offset = 0, filter_offset = 10000000, ofmap_offset = 20000000;
  std::int64_t memory_banks = 1;
  std::vector<double> bandwidths;    // `Bandwidth`, words/cycle (one per bank)
  std::string topology_path;         // [network_presets] TopologyCsvLoc, if present
};

ScaleSimConfig parse_scalesim_cfg(const std::filesystem::path& path);
std::vector<Layer> parse_scalesim_topology(const std::filesystem::path& path);

// Writes COMPUTE_REPORT.csv, BANDWIDTH_REPORT.csv and DETAILED_ACCESS_REPORT.csv
// into `dir` (created if missing) in SCALE-Sim v2's column layout. A non-empty
// `dram_note` marks every DRAM column header ("DRAM IFMAP Reads [NOTE]") whose
// figures are not SCALE-Sim's (not from DramModel::scalesim_replay).
void write_scalesim_reports(const std::filesystem::path& dir, const std::vector<Layer>& layers,
                            const std::vector<LayerResult>& results, const std::string& dram_note = "");

}  // namespace tessera::systolic
