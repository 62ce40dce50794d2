#pragma once
// Compute impl "systolic": R x C multiply-accumulate arrays (one per core) with a
// vector unit beside them. Matrix products (and convolutions through im2col,
// attention through its two products) are folded onto the array the way
// SCALE-Sim v2 folds them; models/systolic holds the cycle arithmetic.
#include "models/compute/compute.h"
#include "models/systolic/systolic.h"
#include "core/registry.h"

namespace tessera {

// One matrix product of an op in SCALE-Sim's layer form, repeated `batch` times.
struct SystolicLayer {
  int64_t batch;
  systolic::Layer layer;
};

class SystolicArray : public ComputeModel {
 public:
  KernelContext begin_kernel(const Kernel& k, const Hardware& hw) const override;
  double instr_time_s(const Instr& in, const Kernel& k, const KernelContext& c) const override;
  double instr_energy_j(const Instr& in, const Kernel& k, const KernelContext& c) const override;
  double kernel_overhead_s(const Kernel& k, const KernelContext& c) const override;
  double peak_flops(DType t) const override;
  // PEs (operand format, accumulator) plus scratchpads; models/systolic/systolic.h.
  double area_mm2() const override;
  double nominal_clock_hz() const override { return m_params.real("clock"); }
  // Cores the kernel's folds use / cores (1 with vector work); see the .cpp.
  double compute_share(const Kernel& k) const override;
  DType operand_dtype(const Op& op) const override;
  std::optional<numerics::AccumulationModel> accumulation(DType operand) const override;

  // The array as models/systolic sees it (stall-free CALC mode: the engine
  // applies the off-chip bandwidth).
  systolic::ArrayConfig array_config() const;
  // The same for one operand format: its word size (word_bytes auto) and its
  // MAC energy (ArrayConfig::dtype).
  systolic::ArrayConfig array_config(std::optional<DType> operand) const;
  // Bytes per scratchpad word for an operand format (word_bytes, or auto: the
  // format's storage; 1 without a format).
  int64_t word_bytes_for(std::optional<DType> operand) const;
  // The accumulator format for an operand format (acc_dtype, or auto).
  DType acc_dtype_for(DType operand) const;
  // The matrix products an op becomes on the array (empty for vector-unit ops).
  static std::vector<SystolicLayer> layers_of(const Op& op);
};

void register_systolic_array(Registry& r);

}  // namespace tessera
