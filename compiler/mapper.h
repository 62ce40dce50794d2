#pragma once
// A mapper lowers IR ops to kernels for one kind of compute target (tile shapes,
// loop order, stages), so that compile() stays target-independent. The mapper
// for a hardware description is chosen by its compute component's impl name from
// one table (mapper.cpp). Mappers ask the component models questions (SM count,
// rates, on-chip capacities); the models know nothing of the mappers.
#include <memory>
#include <string>
#include <vector>

#include "isa/isa.h"
#include "models/compute/compute.h"
#include "models/hardware.h"
#include "workloads/ir.h"

namespace tessera {

class Mapper {
 public:
  virtual ~Mapper() = default;
  // Lowers op `index` of `g` to one kernel for `hw` (whose compute model this
  // mapper was made for). Sets every field of the kernel but `deps` (compile()).
  virtual Kernel lower(const Graph& g, int index, const Hardware& hw) const = 0;
};

// The mapper for `compute`, by its impl name; InputError naming the impl and the
// impls that have a mapper when there is none.
std::unique_ptr<Mapper> make_mapper(const ComputeModel& compute);
// Compute impl names that have a mapper, sorted.
std::vector<std::string> mapped_impls();

}  // namespace tessera
