#include <catch2/catch.hpp>

#include "core/units.h"
#include "core/utf8.h"

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

TEST_CASE("UTF-8 validation: RFC 3629's well-formed sequences and the first bad byte", "[units][utf8]") {
  CHECK_FALSE(invalid_utf8_at("plain ASCII"));
  CHECK_FALSE(invalid_utf8_at("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));   // e-acute, euro sign, U+1F600
  CHECK(invalid_utf8_at("x\xd7y") == 1);          // 0xD7 leads a 2-byte form; 'y' (0x79) is no continuation
  CHECK(invalid_utf8_at("ab\xc3") == 2);          // truncated at the end
  CHECK(invalid_utf8_at("\xc0\xaf") == 0);        // overlong '/' (C0, C1 never lead)
  CHECK(invalid_utf8_at("\xe0\x80\xaf") == 0);    // overlong 3-byte form (E0 needs A0..BF next)
  CHECK(invalid_utf8_at("\xed\xa0\x80") == 0);    // U+D800, a UTF-16 surrogate
  CHECK(invalid_utf8_at("\xf4\x90\x80\x80") == 0); // U+110000, above the Unicode range
  CHECK(invalid_utf8_at("ok\x80") == 2);          // a lone continuation byte
  CHECK_THROWS_WITH(require_utf8("a: 1\nname: x\xd7\n", "f.yaml"),
                    "f.yaml:2: byte 0xD7 at column 8 is not UTF-8 text (the file must be UTF-8)");
}
