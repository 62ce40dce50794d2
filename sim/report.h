#pragma once
// Renderings of a simulation's result (text for people, JSON and
// CSV for tools).
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/engines/result.h"

namespace tessera {

nlohmann::json report_json(const RunResult& r);
void write_text_report(std::ostream& os, const RunResult& r);
void write_csv_report(std::ostream& os, const RunResult& r);
// The multi-device section of the text report (sim/report_parallel.cpp).
void write_parallel_text(std::ostream& os, const nlohmann::json& parallel);
// The systemc engine's multi-device run (sim/engines/systemc_system.h).
void write_system_simulation_text(std::ostream& os, const nlohmann::json& sim);
// A single-device run's resident memory (sim/engines/capacity.h).
void write_footprint_text(std::ostream& os, const nlohmann::json& footprint);

}  // namespace tessera
