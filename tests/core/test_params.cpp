#include <catch2/catch.hpp>

#include "core/error.h"
#include "core/params.h"

using namespace tessera;

namespace {
std::vector<ParamSpec> specs() {
  return {p_qty("bandwidth", Unit::bytes_per_second, "", "peak bandwidth"),
          p_int("sms", "132", "streaming multiprocessors"),
          p_choice("dataflow", {"os", "ws", "is"}, "ws", "dataflow"),
          p_bool("ecc", "false", "ECC on")};
}
std::string error_of(const std::string& yaml) {
  try {
    parse_params(specs(), YAML::Load(yaml), "hw.yaml: memory.dram");
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("parameters take defaults and parse values", "[params]") {
  Params p = parse_params(specs(), YAML::Load("{bandwidth: 3.35TB/s, dataflow: os}"), "x");
  CHECK(p.real("bandwidth") == Approx(3.35e12));
  CHECK(p.integer("sms") == 132);
  CHECK(p.text("dataflow") == "os");
  CHECK_FALSE(p.flag("ecc"));
}

TEST_CASE("parameter errors name the file, key and value", "[params]") {
  CHECK(error_of("{bandwidth: 1TB/s, speed: 3}") ==
        "hw.yaml: memory.dram: unknown key 'speed'; accepted keys: bandwidth, sms, dataflow, ecc");
  CHECK(error_of("{sms: 4}") ==
        "hw.yaml: memory.dram: missing required key 'bandwidth' (B/s: peak bandwidth)");
  CHECK(error_of("{bandwidth: 3GHz}") ==
        "hw.yaml: memory.dram.bandwidth: invalid value '3GHz': unit 'GHz' is not a bandwidth such as "
        "34GB/s or 3.35TB/s; expected a bandwidth such as 34GB/s or 3.35TB/s");
  CHECK(error_of("{bandwidth: 1TB/s, sms: 1.5}") ==
        "hw.yaml: memory.dram.sms: invalid value '1.5': not an integer; expected int");
  CHECK(error_of("{bandwidth: 1TB/s, dataflow: rs}") ==
        "hw.yaml: memory.dram.dataflow: invalid value 'rs': not one of the choices; expected os|ws|is");
}
