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

}  // namespace tessera
