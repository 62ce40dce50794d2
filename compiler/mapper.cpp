#include "compiler/mapper.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <functional>
#include <string_view>

#include "compiler/systolic/mapper.h"
#include "compiler/tensorcore/mapper.h"
#include "core/error.h"

namespace tessera {

namespace {

struct MapperEntry {
  std::string_view impl;   // compute component impl name
  std::function<std::unique_ptr<Mapper>(const ComputeModel&)> make;
};

// Every target kind's mapper, sorted by impl name. A compute impl registered in
// models/builtin.cpp needs an entry here to be compiled for.
const MapperEntry k_mappers[] = {
    {"systolic",
     [](const ComputeModel& c) -> std::unique_ptr<Mapper> {
       return std::make_unique<SystolicMapper>(dynamic_cast<const SystolicArray&>(c));
     }},
    {"tensorcore",
     [](const ComputeModel& c) -> std::unique_ptr<Mapper> {
       return std::make_unique<TensorCoreMapper>(dynamic_cast<const TensorCoreModel&>(c));
     }},
};

}  // namespace

std::vector<std::string> mapped_impls() {
  std::vector<std::string> out;
  for (const MapperEntry& e : k_mappers) out.emplace_back(e.impl);
  return out;
}

std::unique_ptr<Mapper> make_mapper(const ComputeModel& compute) {
  for (const MapperEntry& e : k_mappers)
    if (e.impl == compute.impl()) return e.make(compute);
  throw InputError(fmt::format("compute impl '{}' has no mapper; mapped impls: {}", compute.impl(),
                               fmt::join(mapped_impls(), ", ")));
}

}  // namespace tessera
