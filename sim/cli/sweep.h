#pragma once
// `tessera sweep`: run a sweep spec, `report` a results database, `merge` shards.
#include <iosfwd>
#include <string>
#include <vector>

namespace tessera {
int cmd_sweep(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);
}  // namespace tessera
