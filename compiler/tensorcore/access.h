#pragma once
// Memory access patterns of a memory-bound kernel that are not one stream:
// a gather of table rows (embedding with `order`), a strided view (reduce with
// `stride`), a re-read of a tensor still in the L2 (reduce with `reread`) and a
// broadcast input read through a strided view (add / mul with `bcast_bytes`,
// `bcast_stride`) and a copy of an expanded view (copy with `expand`).
// Gives what the DRAM level and the L2 move for the kernel's reads, in whole L2
// sectors (MemoryModel::access_bytes of the first level), and the shape of the
// scattered DRAM reads (contiguous run, pitch between runs) that the DRAM level
// costs with its cycle model's access efficiency (KernelInfo::dram_read_run).
#include <optional>

#include "compiler/tensorcore/kernel_build.h"
#include "workloads/ir.h"

namespace tessera::tc_build {

struct AccessPlan {
  double dram_reads = 0;  // bytes read from the DRAM level
  double l2_reads = 0;    // bytes read through the L2 (hits and misses)
  double run = 0;         // contiguous bytes per DRAM read run; 0 = one stream
  double pitch = 0;       // bytes between run starts; 0 = random places
  double l2_working_set = 0;  // bytes re-read from the L2 (0: none)
};

// nullopt: the op reads as one stream (no pattern attribute).
std::optional<AccessPlan> access_plan(const Op& op, const Hardware& hw, const Levels& lv);

}  // namespace tessera::tc_build
