#include <algorithm>
#include <cmath>

#include "models/systolic/systolic.h"

namespace tessera::systolic {

// 45 nm arithmetic areas from M. Horowitz, "Computing's energy problem (and what
// we can do about it)", ISSCC 2014, Fig. 1.1.9 (area column), in um^2:
//   int add 8 b 36, 16 b 67, 32 b 137; int mult 8 b 282, 32 b 3495;
//   fp add 16 b 1360, 32 b 4184; fp mult 16 b 1640, 32 b 7700.
// A multiplier's area grows with the square of its (mantissa) width, an
// adder's linearly; formats the table lacks are placed by those rules from
// the nearest entry (bf16: fp16's multiplier at (8/11)^2, fp8 e4m3 at (4/11)^2).
double multiplier_area_45nm_um2(tessera::DType t) {
  using tessera::DType;
  const double fp16 = 1640, m11 = 11.0 * 11.0;   // fp16: 11 significant bits
  switch (t) {
    case DType::fp64: return 7700 * (53.0 * 53.0) / (24.0 * 24.0);
    case DType::fp32: return 7700;
    case DType::tf32:                // 11 significant bits, as fp16
    case DType::fp16: return fp16;
    case DType::bf16: return fp16 * 64.0 / m11;
    case DType::fp8_e4m3:
    case DType::mxfp8: return fp16 * 16.0 / m11;
    case DType::fp8_e5m2: return fp16 * 9.0 / m11;
    case DType::fp6_e2m3:
    case DType::mxfp6: return fp16 * 16.0 / m11;
    case DType::fp6_e3m2: return fp16 * 9.0 / m11;
    case DType::fp4_e2m1:
    case DType::mxfp4:
    case DType::nvfp4: return fp16 * 4.0 / m11;
    case DType::int32: return 3495;
    case DType::int8:
    case DType::uint8: return 282;
    case DType::int4: return 282 / 4.0;
    case DType::ternary: return 0;   // a sign select, no multiplier
  }
  return 282;
}

double adder_area_45nm_um2(tessera::DType acc) {
  using tessera::DType;
  switch (acc) {
    case DType::fp32:
    case DType::tf32: return 4184;
    case DType::fp16:
    case DType::bf16: return 1360;   // bf16: the fp16 adder's width class
    case DType::fp64: return 4184 * 2;
    case DType::int8:
    case DType::uint8: return 36;
    default: return 137;             // int32
  }
}

double pe_area_mm2(const AreaParams& a, tessera::DType operand, tessera::DType acc) {
  const double s = a.node_nm / 45.0;
  return (multiplier_area_45nm_um2(operand) + adder_area_45nm_um2(acc)) * a.pe_overhead * s * s * 1e-6;
}

double sram_area_mm2(const AreaParams& a, double bytes) {
  const double s = a.node_nm / 28.0;
  // Each port beyond the first: an 8T bitcell instead of a 6T one, ~30 % more
  // area (L. Chang et al., "An 8T-SRAM for variability tolerance and low-voltage
  // operation in high-performance caches", IEEE JSSC 43(4), 2008).
  const double ports = 1.0 + 0.3 * static_cast<double>(std::max<std::int64_t>(0, a.sram_ports - 1));
  return bytes / 1024.0 * a.sram_mm2_per_kib_28nm * s * s * ports;
}

}  // namespace tessera::systolic
