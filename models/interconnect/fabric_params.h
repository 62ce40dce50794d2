#pragma once
// The parameters every fabric component (link, switch) declares the same way:
// its technology name, its fixed latency and its energy per bit. Each kind adds
// its own rates around them (link.cpp, switch.cpp).
#include <string>

#include "core/params.h"

namespace tessera {

struct FabricParams {
  ParamSpec technology, latency, energy_per_bit;
};

// The descriptions say what the technology names, and what the latency and the
// energy of one bit cover, for this kind.
inline FabricParams fabric_params(const std::string& technology_what, const std::string& latency_what,
                                  const std::string& energy_what) {
  return {p_text("technology", "custom", technology_what),
          p_qty("latency", Unit::seconds, "0s", latency_what),
          p_qty("energy_per_bit", Unit::joules, "0J", energy_what)};
}

}  // namespace tessera
