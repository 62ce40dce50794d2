#pragma once
// `compare` for `collective` records (schema: nccl-tests' figures, e.g.
// ../shared/peer-data/nccl-tests/README.md): system, op (all_reduce,
// all_gather, reduce_scatter, alltoall, broadcast, reduce, sendrecv), ranks,
// bytes (nccl-tests' size), optional algo (the algorithm NCCL used: ring, tree,
// nvls; absent = the simulator's own choice) and dtype (default fp32, nccl-tests'
// float); the quantity predicted is busbw_GBps (nccl-tests' bus bandwidth, GB/s
// = 1e9 B/s). A record whose `system` differs from the compared hardware's name
// is predicted on that system's preset (without the --set overrides).
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "models/hardware.h"

namespace tessera {

struct CollectivePrediction {
  double measured_GBps = 0;
  double predicted_GBps = 0;
  std::string group;           // system/op/algo
  nlohmann::json extra;        // workload spec, algorithm and protocol used
};

// nullopt with `skip` set when the record cannot be predicted (e.g. a
// collective the simulator lacks); InputError for a malformed record.
std::optional<CollectivePrediction> predict_collective_record(const nlohmann::json& r, const Hardware& hw,
                                                              std::string& skip);

}  // namespace tessera
