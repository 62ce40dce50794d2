#pragma once
// The collective section of a report: for a run of one collective workload
// (workloads/collectives.cpp), the algorithm and protocol used, nccl-tests' algbw
// (bytes / time) and busbw (algbw x bus_factor, models/interconnect/collective.h)
// and the utilisation of every link and switch.
#include <map>
#include <ostream>
#include <string>

#include <nlohmann/json.hpp>

#include "sim/engines/result.h"

namespace tessera {

// Null unless `info` (the workload graph's info) describes a collective workload.
nlohmann::json collective_section(const RunResult& r, const std::map<std::string, double>& info);
// Text lines of the section (after the report's header).
void write_collective_text(std::ostream& os, const nlohmann::json& section);

}  // namespace tessera
