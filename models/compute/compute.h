#pragma once
// Component kind "compute": the engine that executes mma/vec instructions (a
// systolic array, a GPU's tensor-core SMs). The target's mapper, which lowers IR
// ops to kernels for it, is in compiler/ (compiler/mapper.h).
#include <map>
#include <optional>
#include <string>

#include "isa/isa.h"
#include "models/numerics/accumulation.h"
#include "core/component.h"

namespace tessera {

struct Op;   // workloads/ir.h

// What a compute model decides once per kernel before its instructions are
// timed (e.g. the clock the power limit allows under this kernel's load).
struct KernelContext {
  double clock_hz = 0;
  std::map<std::string, double> values;  // model-specific facts, reported as stats
};

class ComputeModel : public Component {
 public:
  virtual KernelContext begin_kernel(const Kernel& k, const Hardware& hw) const = 0;
  // Time of one mma/vec/barrier/coll instruction (all `count` copies) in seconds.
  virtual double instr_time_s(const Instr& in, const Kernel& k, const KernelContext& c) const = 0;
  // Dynamic energy of one instruction (all copies) in joules.
  virtual double instr_energy_j(const Instr& in, const Kernel& k, const KernelContext& c) const = 0;
  // Fixed time per kernel not overlapped with anything (launch, fill and drain).
  virtual double kernel_overhead_s(const Kernel& k, const KernelContext& c) const = 0;
  // Of kernel_overhead_s, the part the device spends outside the kernel itself
  // (host launch, spacing between back-to-back kernels): what a profiler's summed
  // kernel time leaves out. The rest (block dispatch, fill, drain) is kernel time.
  virtual double launch_idle_s(const Kernel& /*k*/, const KernelContext& /*c*/) const { return 0; }
  // Host (CPU) time the framework spends issuing this kernel's op in eager
  // execution (models/compute/host.h): 0 for a target without a host model, for
  // a CUDA-graph node and for a kernel whose host time is hidden
  // (KernelInfo::host_hidden).
  virtual double host_time_s(const Kernel& /*k*/) const { return 0; }
  // Launches the host may have outstanding before a launch call blocks (the
  // device's launch queue); 0 = unbounded.
  virtual int64_t host_queue_depth() const { return 0; }
  // kernel_overhead_s of the kernel launched onto an idle device (not queued
  // behind a predecessor): from the host's launch call to its first stage.
  virtual double idle_launch_s(const Kernel& k, const KernelContext& c) const { return kernel_overhead_s(k, c); }
  // Dense peak of this target for a format, in FLOP/s at the nominal clock; 0 if unsupported.
  virtual double peak_flops(DType t) const = 0;
  virtual double nominal_clock_hz() const = 0;

  // Share of the compute units a kernel occupies while it computes, in (0, 1]
  // (1 = the whole chip). An engine that overlaps kernels (systemc:streams=N)
  // runs them at full speed while the shares of the kernels computing at one
  // moment sum to at most 1, and slows them in proportion above that.
  virtual double compute_share(const Kernel& /*k*/) const { return 1.0; }

  // Format the matrix unit computes an op's products in (a target may override
  // the workload's format, e.g. a sweep of the array's operand format).
  // Default: the op's own format (compute.cpp).
  virtual DType operand_dtype(const Op& op) const;
  // The matrix unit's accumulation path for an operand format when the target
  // describes it itself; nullopt = the hardware's `numerics.family` presets.
  virtual std::optional<numerics::AccumulationModel> accumulation(DType /*operand*/) const {
    return std::nullopt;
  }
  // Silicon area of the chip this compute component stands for, mm^2 (its
  // arrays and on-chip memories, or a GPU's die); 0 = not stated.
  virtual double area_mm2() const { return 0; }
};

}  // namespace tessera
