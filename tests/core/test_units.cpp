#include <catch2/catch.hpp>

#include "core/units.h"

using namespace tessera;

TEST_CASE("quantities parse to SI base units", "[units]") {
  CHECK(*parse_quantity("1.83GHz", Unit::hertz) == Approx(1.83e9));
  CHECK(*parse_quantity("700MHz", Unit::hertz) == Approx(7e8));
  CHECK(*parse_quantity("3.35TB/s", Unit::bytes_per_second) == Approx(3.35e12));
  CHECK(*parse_quantity("34GB/s", Unit::bytes_per_second) == Approx(34e9));
  CHECK(*parse_quantity("12.5ns", Unit::seconds) == Approx(12.5e-9));
  CHECK(*parse_quantity("4us", Unit::seconds) == Approx(4e-6));
  // Binary prefixes are powers of 1024: 50 MiB = 50 * 1048576 = 52428800 B.
  CHECK(*parse_quantity("50MiB", Unit::bytes) == 52428800.0);
  CHECK(*parse_quantity("24MiB", Unit::bytes) == 25165824.0);
  CHECK(*parse_quantity("80GB", Unit::bytes) == 80e9);
  CHECK(*parse_quantity("700W", Unit::watts) == 700.0);
  CHECK(*parse_quantity("0.2pJ", Unit::joules) == Approx(0.2e-12));
  CHECK(*parse_quantity("512", Unit::bytes) == 512.0);   // bare number: base unit
  CHECK(*parse_quantity(" 1 GHz ", Unit::hertz) == Approx(1e9));
}

TEST_CASE("wrong or malformed units are rejected with a reason", "[units]") {
  std::string why;
  CHECK_FALSE(parse_quantity("3.35GHz", Unit::bytes_per_second, &why));
  CHECK(why == "unit 'GHz' is not a bandwidth such as 34GB/s or 3.35TB/s");
  CHECK_FALSE(parse_quantity("fast", Unit::hertz, &why));
  CHECK(why == "does not start with a number");
  // 1e400 starts with a number, but one no double holds.
  CHECK_FALSE(parse_quantity("1e400GHz", Unit::hertz, &why));
  CHECK(why == "a number out of the range of a double (magnitudes about 2.2e-308 to 1.8e308)");
  CHECK_FALSE(parse_quantity("", Unit::watts, &why));
  CHECK(why == "empty value");
  // Sub-unit prefixes are meaningless for sizes: "5mB" is not 0.005 bytes.
  CHECK_FALSE(parse_quantity("5mB", Unit::bytes, &why));
  CHECK_FALSE(parse_quantity("2MiHz", Unit::hertz, &why));  // binary prefix only for bytes
  CHECK_FALSE(parse_quantity("3x", Unit::none, &why));
}

TEST_CASE("quantities format with SI prefixes", "[units]") {
  CHECK(format_quantity(3.35e12, Unit::bytes_per_second) == "3.35 TB/s");
  CHECK(format_quantity(52428800, Unit::bytes) == "50 MiB");
  CHECK(format_quantity(1.5e-6, Unit::seconds) == "1.5 us");
  CHECK(format_quantity(0, Unit::joules) == "0 J");
}
