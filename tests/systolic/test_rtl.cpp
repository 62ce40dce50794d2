// RTL anchor: the Verilated systolic_array.sv against the C++ model, for all
// three dataflows and four array shapes, with operands larger than the array.
#include <catch2/catch.hpp>

#include <memory>
#include <random>
#include <vector>

#include <verilated.h>

#include "Vsa_df0_16x16.h"
#include "Vsa_df0_4x4.h"
#include "Vsa_df0_4x8.h"
#include "Vsa_df0_8x8.h"
#include "Vsa_df1_16x16.h"
#include "Vsa_df1_4x4.h"
#include "Vsa_df1_4x8.h"
#include "Vsa_df1_8x8.h"
#include "Vsa_df2_16x16.h"
#include "Vsa_df2_4x4.h"
#include "Vsa_df2_4x8.h"
#include "Vsa_df2_8x8.h"
#include "models/systolic/systolic.h"

using namespace tessera::systolic;

namespace {

constexpr std::int64_t kMax = 40;  // MAXM = MAXN = MAXK in tests/systolic/CMakeLists.txt

struct Shape {
  std::int64_t m, n, k;
};

template <class Model>
class Bench {
 public:
  Bench() : m_ctx(std::make_unique<VerilatedContext>()), m_top(std::make_unique<Model>(m_ctx.get())) {
    m_top->rst = 1;
    for (int i = 0; i < 3; ++i) tick();
    m_top->rst = 0;
    tick();
  }
  ~Bench() { m_top->final(); }

  void tick() {
    m_top->clk = 0;
    m_top->eval();
    m_top->clk = 1;
    m_top->eval();
  }

  // Loads A and B, runs one product and returns the clock edges from the edge
  // that samples `start` (exclusive) to the one that raises `done` (inclusive).
  std::int64_t run(const Shape& s, const std::vector<std::int64_t>& a,
                   const std::vector<std::int64_t>& b) {
    for (std::int64_t i = 0; i < s.m; ++i)
      for (std::int64_t j = 0; j < s.k; ++j) {
        m_top->a_we = 1;
        m_top->a_addr = static_cast<std::uint32_t>(i * kMax + j);
        m_top->a_wdata = static_cast<std::uint8_t>(a[static_cast<std::size_t>(i * s.k + j)]);
        tick();
      }
    m_top->a_we = 0;
    for (std::int64_t i = 0; i < s.k; ++i)
      for (std::int64_t j = 0; j < s.n; ++j) {
        m_top->b_we = 1;
        m_top->b_addr = static_cast<std::uint32_t>(i * kMax + j);
        m_top->b_wdata = static_cast<std::uint8_t>(b[static_cast<std::size_t>(i * s.n + j)]);
        tick();
      }
    m_top->b_we = 0;
    m_top->m = static_cast<std::uint16_t>(s.m);
    m_top->n = static_cast<std::uint16_t>(s.n);
    m_top->k = static_cast<std::uint16_t>(s.k);
    m_top->start = 1;
    tick();
    m_top->start = 0;
    std::int64_t edges = 0;
    while (!m_top->done) {
      tick();
      ++edges;
      REQUIRE(edges < 1000000);
    }
    CHECK(static_cast<std::int64_t>(m_top->cycles) == edges);
    return edges;
  }

  std::int64_t c_at(std::int64_t i, std::int64_t j) {
    m_top->c_addr = static_cast<std::uint32_t>(i * kMax + j);
    m_top->eval();
    return static_cast<std::int32_t>(m_top->c_rdata);
  }

 private:
  std::unique_ptr<VerilatedContext> m_ctx;
  std::unique_ptr<Model> m_top;
};

template <class Model>
void cross_check(std::int64_t rows, std::int64_t cols, Dataflow df) {
  Bench<Model> bench;
  std::mt19937 rng(static_cast<unsigned>(rows * 1000 + cols * 10 + static_cast<int>(df)));
  std::uniform_int_distribution<int> val(-128, 127);
  // Every shape folds: at least one dimension exceeds the array.
  const Shape shapes[] = {
      {rows, cols, rows},                                        // exactly one tile
      {2 * rows + 3, 2 * cols + 1, rows + 5},                    // partial folds everywhere
      {std::min<std::int64_t>(kMax, 3 * rows - 1), 3, std::min<std::int64_t>(kMax, 2 * cols + 7)},
      {1, std::min<std::int64_t>(kMax, cols + 9), std::min<std::int64_t>(kMax, 3 * rows)},
  };
  for (const Shape& s : shapes) {
    std::vector<std::int64_t> a(static_cast<std::size_t>(s.m * s.k)),
        b(static_cast<std::size_t>(s.k * s.n));
    for (auto& x : a) x = val(rng);
    for (auto& x : b) x = val(rng);
    INFO(rows << "x" << cols << " " << dataflow_name(df) << " m=" << s.m << " n=" << s.n
              << " k=" << s.k);
    const std::int64_t edges = bench.run(s, a, b);
    CHECK(edges == rtl_cycles(rows, cols, df, s.m, s.n, s.k));
    // Relation to SCALE-Sim's Total Cycles (docs/systolic.md): the RTL counts
    // edges (lines), SCALE-Sim the last line's index; os adds its copy-out edge.
    const LayerResult r = simulate_layer(
        ArrayConfig{.rows = rows, .cols = cols, .dataflow = df},
        Layer::from_gemm("rtl", s.m, s.n, s.k));
    CHECK(edges == r.compute_cycles + 1 + (df == Dataflow::os ? 1 : 0));
    const std::vector<std::int64_t> c = matmul_reference(a, b, s.m, s.n, s.k, 32);
    std::int64_t mismatches = 0;
    for (std::int64_t i = 0; i < s.m; ++i)
      for (std::int64_t j = 0; j < s.n; ++j)
        if (bench.c_at(i, j) != c[static_cast<std::size_t>(i * s.n + j)]) ++mismatches;
    CHECK(mismatches == 0);
  }
}

}  // namespace

TEST_CASE("RTL output stationary matches the model", "[systolic][rtl]") {
  cross_check<Vsa_df0_4x4>(4, 4, Dataflow::os);
  cross_check<Vsa_df0_8x8>(8, 8, Dataflow::os);
  cross_check<Vsa_df0_16x16>(16, 16, Dataflow::os);
  cross_check<Vsa_df0_4x8>(4, 8, Dataflow::os);
}

TEST_CASE("RTL weight stationary matches the model", "[systolic][rtl]") {
  cross_check<Vsa_df1_4x4>(4, 4, Dataflow::ws);
  cross_check<Vsa_df1_8x8>(8, 8, Dataflow::ws);
  cross_check<Vsa_df1_16x16>(16, 16, Dataflow::ws);
  cross_check<Vsa_df1_4x8>(4, 8, Dataflow::ws);
}

TEST_CASE("RTL input stationary matches the model", "[systolic][rtl]") {
  cross_check<Vsa_df2_4x4>(4, 4, Dataflow::is);
  cross_check<Vsa_df2_8x8>(8, 8, Dataflow::is);
  cross_check<Vsa_df2_16x16>(16, 16, Dataflow::is);
  cross_check<Vsa_df2_4x8>(4, 8, Dataflow::is);
}
