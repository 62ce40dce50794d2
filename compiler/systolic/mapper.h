#pragma once
// The systolic-array mapper: folds matrix products (convolutions through im2col,
// attention through its products) onto the array the way SCALE-Sim v2 does
// (SystolicArray::layers_of gives the products, models/systolic the folds and
// scratchpad counts), and puts element-wise and row ops on the vector unit.
#include "compiler/mapper.h"
#include "models/compute/systolic_array.h"

namespace tessera {

class SystolicMapper : public Mapper {
 public:
  explicit SystolicMapper(const SystolicArray& array) : m_array(array) {}
  Kernel lower(const Graph& g, int index, const Hardware& hw) const override;

 private:
  const SystolicArray& m_array;
};

}  // namespace tessera
