#pragma once
// `tessera memsim`: drives the cycle-level DRAM model with a request trace or a
// generated pattern and reports bandwidth, the latency distribution, and the
// per-channel statistics (docs/memory.md).
#include <iosfwd>
#include <string>
#include <vector>

namespace tessera {
int cmd_memsim(const std::vector<std::string>& args, std::ostream& out);
}  // namespace tessera
