#include "sim/propagate.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "models/numerics/accumulation.h"
#include "models/numerics/format.h"

namespace tessera {
namespace {

using Tensor = std::vector<double>;

// Deterministic N(0,1) / U[0,1) stream keyed by (seed, stream id).
class Rng {
 public:
  Rng(uint64_t seed, uint64_t stream) : m_state(numerics::splitmix64(seed ^ numerics::splitmix64(stream + 1))) {}
  double uniform() {
    m_state = numerics::splitmix64(m_state);
    return (static_cast<double>(m_state >> 11) + 0.5) * 0x1.0p-53;
  }
  // Box-Muller, both values of each pair used.
  double normal() {
    if (m_have_spare) {
      m_have_spare = false;
      return m_spare;
    }
    const double u1 = uniform(), u2 = uniform();
    const double r = std::sqrt(-2 * std::log(u1));
    m_spare = r * std::sin(2 * M_PI * u2);
    m_have_spare = true;
    return r * std::cos(2 * M_PI * u2);
  }

 private:
  uint64_t m_state;
  double m_spare = 0;
  bool m_have_spare = false;
};

double to_fp32(double x) { return static_cast<double>(static_cast<float>(x)); }

// How one path computes: the reference (fp64 everywhere) or the hardware.
struct Path {
  bool reference = true;
  const numerics::AccumulationModel* acc = nullptr;

  // One value rounded to t. Integer formats keep the value here: their scale is
  // the whole tensor's, applied by Executor::run once the output is complete.
  double q(double x, DType t) const { return reference || is_integer_dtype(t) ? x : numerics::quantize(x, t); }
  void q(Tensor& v, DType t) const {
    if (!reference) quantize_tensor(v, t);
  }
  // Vector units compute in fp32.
  double v(double x) const { return reference ? x : to_fp32(x); }

  // Sum of a[i*sa]*b[i*sb] for i in [i0, i1) in fp64 with four independent
  // partial sums (the fp64 reference of an error that is orders of magnitude larger).
  static double sum4(const double* a, int64_t sa, const double* b, int64_t sb, int64_t i0, int64_t i1) {
    double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    int64_t i = i0;
    for (; i + 4 <= i1; i += 4) {
      s0 += a[i * sa] * b[i * sb];
      s1 += a[(i + 1) * sa] * b[(i + 1) * sb];
      s2 += a[(i + 2) * sa] * b[(i + 2) * sb];
      s3 += a[(i + 3) * sa] * b[(i + 3) * sb];
    }
    for (; i < i1; ++i) s0 += a[i * sa] * b[i * sb];
    return (s0 + s1) + (s2 + s3);
  }

  // Dot product of a[0..K) and b[0..K): the fp64 reference, or the bit-exact
  // accumulation path of the hardware's matrix unit (the per-op report's).
  double dot(const double* a, const double* b, int64_t K) const {
    if (reference) return sum4(a, 1, b, 1, 0, K);
    return numerics::dot_unrounded(*acc, a, b, K);
  }
};

class Executor {
 public:
  Executor(const Graph& g, const PrecisionOptions& opt) : m_g(g), m_opt(opt) {}

  // Input `slot` of op `i` with `n` elements: its producer's output (cyclic) or random.
  Tensor input(size_t i, size_t slot, int64_t n, const std::vector<Tensor>& outs) const {
    const Op& op = m_g.ops[i];
    Tensor t(static_cast<size_t>(n));
    if (slot < op.deps.size() && !outs[static_cast<size_t>(op.deps[slot])].empty()) {
      const Tensor& src = outs[static_cast<size_t>(op.deps[slot])];
      for (size_t j = 0; j < t.size(); ++j) t[j] = src[j % src.size()];
    } else {
      Rng r(m_opt.seed, i * 16 + slot);
      for (auto& x : t) x = m_opt.dist == "uniform01" ? r.uniform() : r.normal();
    }
    return t;
  }
  // The reference and the hardware path of an op draw the same weights: the
  // last op's are kept so the second path does not draw them again.
  Tensor weights(size_t i, size_t slot, int64_t n, double fan_in) const {
    const uint64_t key = 0x100000 + i * 16 + slot;
    for (const auto& [k, w] : m_weight_cache)
      if (k == key && w.size() == static_cast<size_t>(n)) return w;
    Rng r(m_opt.seed, key);
    Tensor t(static_cast<size_t>(n));
    const double s = 1.0 / std::sqrt(std::max(1.0, fan_in));
    for (auto& x : t) x = r.normal() * s;
    if (!m_weight_cache.empty() && (m_weight_cache.front().first >> 4) != (key >> 4)) m_weight_cache.clear();
    m_weight_cache.emplace_back(key, t);
    return t;
  }

  // Op i's output on path P; an integer output format is applied to the whole
  // tensor (one scale per tensor, quantize_tensor).
  Tensor run(size_t i, const Path& P, const std::vector<Tensor>& outs) const {
    Tensor y = run_op(i, P, outs);
    if (is_integer_dtype(m_g.ops[i].out_dtype)) P.q(y, m_g.ops[i].out_dtype);
    return y;
  }

 private:
  Tensor run_op(size_t i, const Path& P, const std::vector<Tensor>& outs) const {
    const Op& op = m_g.ops[i];
    const DType in = op.dtype, out = op.out_dtype;
    Tensor y(static_cast<size_t>(op_out_elems(op)));
    switch (op.kind) {
      case OpKind::matmul: {
        const int64_t B = op.at("batch"), M = op.at("m"), N = op.at("n"), K = op.at("k");
        Tensor a = input(i, 0, B * M * K, outs);
        const bool shared = op.get("b_shared", 0) || op.deps.size() < 2;
        Tensor b = shared ? weights(i, 1, K * N, static_cast<double>(K)) : input(i, 1, B * K * N, outs);
        P.q(a, in);
        P.q(b, in);
        // B as N x K so every dot product reads both operands contiguously. Random
        // weights are drawn in that layout directly; a produced B is transposed.
        Tensor bt;
        if (shared) {
          bt = std::move(b);
        } else {
          bt.resize(b.size());
          for (int64_t bi = 0; bi < B; ++bi)
            for (int64_t kk = 0; kk < K; ++kk)
              for (int64_t n = 0; n < N; ++n)
                bt[static_cast<size_t>((bi * N + n) * K + kk)] = b[static_cast<size_t>((bi * K + kk) * N + n)];
        }
        for (int64_t bi = 0; bi < B; ++bi)
          for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n) {
              const double* pa = &a[static_cast<size_t>((bi * M + m) * K)];
              const double* pb = &bt[static_cast<size_t>(((shared ? 0 : bi) * N + n) * K)];
              y[static_cast<size_t>((bi * M + m) * N + n)] = P.q(P.dot(pa, pb, K), out);
            }
        return y;
      }
      case OpKind::conv2d: {
        // NCDHW activations and KCTRS weights; a 2-D convolution has D = T = Do = 1.
        const ConvWindow cw = conv_window(op);
        const int64_t Nb = op.at("n"), C = op.at("cin"), Co = op.at("cout");
        const int64_t D = cw.d, H = cw.h, W = cw.w, T = cw.t, R = cw.r, S = cw.s;
        const int64_t st = cw.stride, sd = cw.stride_d, pad = cw.pad, pd = cw.pad_d;
        const int64_t dil = cw.dilation, dd = cw.dilation_d, G = op.get("groups", 1);
        const int64_t sw = cw.stride_w, pw = cw.pad_w, dw = cw.dilation_w;  // the width's
        const int64_t Do = cw.od, Ho = cw.oh, Wo = cw.ow;
        const int64_t Cg = C / G, Cog = Co / G, K = Cg * T * R * S;
        if (op.get("grad", 0) == 1) {
          // A transposed convolution (transposed=1; training graphs are not
          // propagated): the data gradient of the forward convolution, dx[n, c, z, h, w]
          // = sum over the group's output channels co and taps (q, r, s) with
          // z = zo sd - pd + q dd, h = ho st - pad + r dil, w = wo sw - pw + s dw
          // of dy[n, co, zo, ho, wo] w[co, c, q, r, s].
          Tensor dy = input(i, 0, Nb * Co * Do * Ho * Wo, outs);
          Tensor w = weights(i, 1, Co * K, static_cast<double>(K));
          P.q(dy, in);
          P.q(w, in);
          Tensor a(static_cast<size_t>(Cog * T * R * S)), b(static_cast<size_t>(Cog * T * R * S));
          const auto tap = [](int64_t pos, int64_t stride, int64_t out_dim, int64_t& o) {
            if (pos < 0 || pos % stride != 0 || pos / stride >= out_dim) return false;
            o = pos / stride;
            return true;
          };
          for (int64_t n = 0; n < Nb; ++n)
            for (int64_t c = 0; c < C; ++c) {
              const int64_t g = c / Cg;
              for (int64_t z = 0; z < D; ++z)
                for (int64_t h = 0; h < H; ++h)
                  for (int64_t x0 = 0; x0 < W; ++x0) {
                    int64_t idx = 0;
                    for (int64_t co = g * Cog; co < (g + 1) * Cog; ++co)
                      for (int64_t q = 0; q < T; ++q)
                        for (int64_t r = 0; r < R; ++r)
                          for (int64_t s = 0; s < S; ++s) {
                            int64_t oz = 0, oh = 0, ow = 0;
                            const bool hit = tap(z + pd - q * dd, sd, Do, oz) &&
                                             tap(h + pad - r * dil, st, Ho, oh) &&
                                             tap(x0 + pw - s * dw, sw, Wo, ow);
                            a[static_cast<size_t>(idx)] =
                                hit ? dy[static_cast<size_t>((((n * Co + co) * Do + oz) * Ho + oh) * Wo + ow)]
                                    : 0.0;
                            b[static_cast<size_t>(idx++)] =
                                w[static_cast<size_t>(co * K + (((c - g * Cg) * T + q) * R + r) * S + s)];
                          }
                    y[static_cast<size_t>((((n * C + c) * D + z) * H + h) * W + x0)] =
                        P.q(P.dot(a.data(), b.data(), idx), out);
                  }
            }
          return y;
        }
        Tensor x = input(i, 0, Nb * C * D * H * W, outs);
        Tensor w = weights(i, 1, Co * K, static_cast<double>(K));
        P.q(x, in);
        P.q(w, in);
        Tensor col(static_cast<size_t>(K));
        for (int64_t n = 0; n < Nb; ++n)
          for (int64_t co = 0; co < Co; ++co) {
            const int64_t g = co / Cog;
            for (int64_t zo = 0; zo < Do; ++zo)
              for (int64_t ho = 0; ho < Ho; ++ho)
                for (int64_t wo = 0; wo < Wo; ++wo) {
                  int64_t idx = 0;
                  for (int64_t c = 0; c < Cg; ++c)
                    for (int64_t q = 0; q < T; ++q)
                      for (int64_t r = 0; r < R; ++r)
                        for (int64_t s = 0; s < S; ++s) {
                          const int64_t zi = zo * sd - pd + q * dd, hi = ho * st - pad + r * dil,
                                        wi = wo * sw - pw + s * dw;
                          col[static_cast<size_t>(idx++)] =
                              (zi < 0 || zi >= D || hi < 0 || hi >= H || wi < 0 || wi >= W)
                                  ? 0.0
                                  : x[static_cast<size_t>((((n * C + g * Cg + c) * D + zi) * H + hi) * W +
                                                          wi)];
                        }
                  y[static_cast<size_t>((((n * Co + co) * Do + zo) * Ho + ho) * Wo + wo)] =
                      P.q(P.dot(col.data(), &w[static_cast<size_t>(co * K)], K), out);
                }
          }
        return y;
      }
      case OpKind::attention: {
        const int64_t B = op.at("batch"), Hq = op.at("heads"), Hk = op.get("kv_heads", Hq);
        const int64_t Sq = op.at("sq"), Sk = op.at("skv"), D = op.at("d");
        Tensor q = input(i, 0, B * Hq * Sq * D, outs);
        Tensor k = input(i, op.deps.size() > 1 ? 1 : 0, B * Hk * Sk * D, outs);
        Tensor v = input(i, op.deps.size() > 2 ? 2 : 0, B * Hk * Sk * D, outs);
        if (op.deps.size() == 1) std::rotate(v.begin(), v.begin() + static_cast<long>(v.size() / 3), v.end());
        P.q(q, in);
        P.q(k, in);
        P.q(v, in);
        const bool causal = op.get("causal", 0) != 0;
        const double scale = 1.0 / std::sqrt(static_cast<double>(D));
        Tensor p(static_cast<size_t>(Sk));
        for (int64_t b = 0; b < B; ++b)
          for (int64_t h = 0; h < Hq; ++h) {
            const int64_t hk = h / std::max<int64_t>(1, Hq / Hk);
            const double* K0 = &k[static_cast<size_t>((b * Hk + hk) * Sk * D)];
            // V of this head transposed (D x Sk) for contiguous P.V dot products.
            Tensor vt(static_cast<size_t>(Sk * D));
            for (int64_t t = 0; t < Sk; ++t)
              for (int64_t d = 0; d < D; ++d)
                vt[static_cast<size_t>(d * Sk + t)] = v[static_cast<size_t>(((b * Hk + hk) * Sk + t) * D + d)];
            for (int64_t s = 0; s < Sq; ++s) {
              const double* qs = &q[static_cast<size_t>(((b * Hq + h) * Sq + s) * D)];
              // Causal: query s sees keys up to its position at the end of the window.
              const int64_t visible = causal ? std::min(Sk, Sk - Sq + s + 1) : Sk;
              double mx = -INFINITY;
              for (int64_t t = 0; t < visible; ++t) {
                p[static_cast<size_t>(t)] = P.v(P.dot(qs, K0 + t * D, D) * scale);
                mx = std::max(mx, p[static_cast<size_t>(t)]);
              }
              double sum = 0;
              for (int64_t t = 0; t < visible; ++t) sum = P.v(sum + (p[static_cast<size_t>(t)] = P.v(std::exp(p[static_cast<size_t>(t)] - mx))));
              for (int64_t t = 0; t < visible; ++t) p[static_cast<size_t>(t)] = P.q(p[static_cast<size_t>(t)] / sum, in);
              for (int64_t d = 0; d < D; ++d)
                y[static_cast<size_t>(((b * Hq + h) * Sq + s) * D + d)] = P.q(P.dot(p.data(), &vt[static_cast<size_t>(d * Sk)], visible), out);
            }
          }
        return y;
      }
      case OpKind::maxpool:
      case OpKind::avgpool: {
        const ConvWindow cw = conv_window(op);
        const int64_t Nb = op.at("n"), C = op.at("c"), D = cw.d, H = cw.h, W = cw.w;
        const int64_t T = cw.t, R = cw.r, S = cw.s, st = cw.stride, sd = cw.stride_d, pad = cw.pad,
                      pd = cw.pad_d, sw = cw.stride_w, pw = cw.pad_w;
        const int64_t Do = cw.od, Ho = cw.oh, Wo = cw.ow;
        Tensor x = input(i, 0, Nb * C * D * H * W, outs);
        P.q(x, in);
        for (int64_t nc = 0; nc < Nb * C; ++nc)
          for (int64_t zo = 0; zo < Do; ++zo)
            for (int64_t ho = 0; ho < Ho; ++ho)
              for (int64_t wo = 0; wo < Wo; ++wo) {
                double acc = op.kind == OpKind::maxpool ? -INFINITY : 0;
                for (int64_t q = 0; q < T; ++q)
                  for (int64_t r = 0; r < R; ++r)
                    for (int64_t s = 0; s < S; ++s) {
                      const int64_t zi = zo * sd - pd + q, hi = ho * st - pad + r, wi = wo * sw - pw + s;
                      if (zi < 0 || zi >= D || hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
                      const double val = x[static_cast<size_t>(((nc * D + zi) * H + hi) * W + wi)];
                      acc = op.kind == OpKind::maxpool ? std::max(acc, val) : P.v(acc + val);
                    }
                if (op.kind == OpKind::avgpool) acc = P.v(acc / static_cast<double>(T * R * S));
                y[static_cast<size_t>(((nc * Do + zo) * Ho + ho) * Wo + wo)] = P.q(acc, out);
              }
        return y;
      }
      case OpKind::embedding: {
        const int64_t T = op.at("tokens"), D = op.at("dim"), V = std::min<int64_t>(op.get("vocab", 1024), 4096);
        Tensor table = weights(i, 1, V * D, 1.0);
        P.q(table, in);
        Rng r(m_opt.seed, 0x200000 + i);
        if (op.attrs.count("bags")) {
          // nn.EmbeddingBag (sum): the tokens split evenly over the bags, each bag's
          // rows accumulated in fp32 (acc_type), one rounding to the output.
          // mode="max" (bag_max): each element is the largest of its bag's, a value
          // of the table, so exact.
          const int64_t B = op.at("bags");
          const bool max = op.get("bag_max", 0) != 0;
          std::vector<double> acc(static_cast<size_t>(B * D),
                                  max ? -std::numeric_limits<double>::infinity() : 0.0);
          for (int64_t t = 0; t < T; ++t) {
            const int64_t row = static_cast<int64_t>(r.uniform() * static_cast<double>(V)) % V;
            const int64_t bag = t * B / T;
            for (int64_t d = 0; d < D; ++d) {
              double& a = acc[static_cast<size_t>(bag * D + d)];
              const double v = table[static_cast<size_t>(row * D + d)];
              a = max ? std::max(a, v) : P.v(a + v);
            }
          }
          // An empty bag's output is 0 (EmbeddingBag.cu), also in mode="max".
          const double none = -std::numeric_limits<double>::infinity();
          for (size_t k = 0; k < acc.size(); ++k) y[k] = P.q(max && acc[k] == none ? 0.0 : acc[k], out);
          return y;
        }
        for (int64_t t = 0; t < T; ++t) {
          const int64_t row = static_cast<int64_t>(r.uniform() * static_cast<double>(V)) % V;
          for (int64_t d = 0; d < D; ++d) y[static_cast<size_t>(t * D + d)] = P.q(table[static_cast<size_t>(row * D + d)], out);
        }
        return y;
      }
      case OpKind::rnn_cell:
        if (!op.get("backward", 0)) return rnn_cell_op(i, P, outs, y.size());
        return vector_op(i, P, outs, y.size());
      default:
        return vector_op(i, P, outs, y.size());
    }
  }

  // One step of a recurrent layer's fused cell (workloads/op_cost.cpp): the gate
  // pre-activations xproj + hproj (inputs 0 and 1, `gates` x cols per row) and the
  // activations in fp32, one rounding of h to the output format. Input 2 is the
  // previous step's cell (its h stands in for the LSTM's c', which the graph does
  // not carry); the first step has none: c' = h' = 0.
  Tensor rnn_cell_op(size_t i, const Path& P, const std::vector<Tensor>& outs, size_t n) const {
    const Op& op = m_g.ops[i];
    const int64_t g = op.at("gates"), cols = op.at("cols");
    const auto e = static_cast<int64_t>(n);
    Tensor xp = input(i, 0, g * e, outs), hp = input(i, 1, g * e, outs);
    Tensor prev = op.deps.size() > 2 ? input(i, 2, e, outs) : Tensor(n, 0.0);
    P.q(xp, op.dtype);
    P.q(hp, op.dtype);
    P.q(prev, op.dtype);
    const auto sig = [&](double v) { return P.v(1 / (1 + std::exp(-v))); };
    Tensor y(n);
    for (int64_t j = 0; j < e; ++j) {
      const int64_t base = (j / cols) * g * cols + j % cols;
      const auto at = [&](const Tensor& t, int64_t gate) {
        return t[static_cast<size_t>(base + gate * cols)];
      };
      const double p = prev[static_cast<size_t>(j)];
      double h = 0;
      if (g == 4) {  // i f g o
        const double c = P.v(sig(P.v(at(xp, 1) + at(hp, 1))) * p +
                             sig(P.v(at(xp, 0) + at(hp, 0))) * P.v(std::tanh(P.v(at(xp, 2) + at(hp, 2)))));
        h = sig(P.v(at(xp, 3) + at(hp, 3))) * P.v(std::tanh(c));
      } else {  // r z n, linear_before_reset
        const double r = sig(P.v(at(xp, 0) + at(hp, 0))), z = sig(P.v(at(xp, 1) + at(hp, 1)));
        const double nn = P.v(std::tanh(P.v(at(xp, 2) + P.v(r * at(hp, 2)))));
        h = nn + z * P.v(p - nn);
      }
      y[static_cast<size_t>(j)] = P.q(P.v(h), op.out_dtype);
    }
    return y;
  }

  Tensor vector_op(size_t i, const Path& P, const std::vector<Tensor>& outs, size_t n) const {
    const Op& op = m_g.ops[i];
    const DType in = op.dtype, out = op.out_dtype;
    Tensor x = input(i, 0, static_cast<int64_t>(n), outs);
    P.q(x, in);
    Tensor y(n);
    const int64_t cols = op.attrs.count("cols") ? op.at("cols") : static_cast<int64_t>(n);
    const int64_t rows = static_cast<int64_t>(n) / std::max<int64_t>(1, cols);
    switch (op.kind) {
      case OpKind::add:
      case OpKind::mul: {
        Tensor x2 = input(i, 1, static_cast<int64_t>(n), outs);
        P.q(x2, in);
        for (size_t j = 0; j < n; ++j) y[j] = P.q(P.v(op.kind == OpKind::add ? x[j] + x2[j] : x[j] * x2[j]), out);
        return y;
      }
      case OpKind::layernorm:
      case OpKind::rmsnorm:
      case OpKind::softmax: {
        for (int64_t r = 0; r < rows; ++r) {
          double* row = &x[static_cast<size_t>(r * cols)];
          double* yr = &y[static_cast<size_t>(r * cols)];
          if (op.kind == OpKind::softmax) {
            double mx = -INFINITY, sum = 0;
            for (int64_t c = 0; c < cols; ++c) mx = std::max(mx, row[c]);
            for (int64_t c = 0; c < cols; ++c) sum = P.v(sum + P.v(std::exp(row[c] - mx)));
            for (int64_t c = 0; c < cols; ++c) yr[c] = P.q(P.v(std::exp(row[c] - mx) / sum), out);
            continue;
          }
          double mean = 0, var = 0;
          if (op.kind == OpKind::layernorm) {
            for (int64_t c = 0; c < cols; ++c) mean = P.v(mean + row[c]);
            mean = P.v(mean / static_cast<double>(cols));
          }
          for (int64_t c = 0; c < cols; ++c) var = P.v(var + (row[c] - mean) * (row[c] - mean));
          const double inv = P.v(1.0 / std::sqrt(var / static_cast<double>(cols) + 1e-5));
          for (int64_t c = 0; c < cols; ++c) yr[c] = P.q(P.v((row[c] - mean) * inv), out);
        }
        return y;
      }
      default:
        break;
    }
    for (size_t j = 0; j < n; ++j) {
      const double v = x[j];
      double r = v;
      switch (op.kind) {
        case OpKind::relu: r = std::max(0.0, v); break;
        case OpKind::gelu: r = 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))); break;
        case OpKind::silu: r = v / (1 + std::exp(-v)); break;
        case OpKind::sigmoid: r = 1 / (1 + std::exp(-v)); break;
        case OpKind::tanh: r = std::tanh(v); break;
        case OpKind::batchnorm: r = v * 0.9 + 0.05; break;   // folded scale/shift of inference BN
        // dropout: its expected value (the input; which elements are dropped is the
        // generator's, not a property of the formats);
        // copy, transpose, kv cache, collectives on one device: values pass through;
        // reduce too (its op_out_elems() = outputs x cols first values: the column
        // sum itself is not emulated).
        default: break;
      }
      y[j] = P.q(P.v(r), out);
    }
    return y;
  }

  const Graph& m_g;
  const PrecisionOptions& m_opt;
  mutable std::vector<std::pair<uint64_t, Tensor>> m_weight_cache;
};

struct Diff {
  double rel = 0, max_abs = 0, snr_db = 0;
  int64_t nan = 0, inf = 0;
};

Diff compare(const Tensor& emu, const Tensor& ref) {
  Diff d;
  double num = 0, den = 0;
  for (size_t j = 0; j < ref.size(); ++j) {
    if (std::isnan(emu[j])) { ++d.nan; continue; }
    if (std::isinf(emu[j])) { ++d.inf; continue; }
    const double e = emu[j] - ref[j];
    num += e * e;
    den += ref[j] * ref[j];
    d.max_abs = std::max(d.max_abs, std::fabs(e));
  }
  d.rel = den > 0 ? std::sqrt(num / den) : (num > 0 ? INFINITY : 0);
  d.snr_db = num > 0 ? 10 * std::log10(den / num) : INFINITY;
  return d;
}

}  // namespace

double graph_macs(const Graph& g) {
  double macs = 0;
  for (const Op& op : g.ops)
    if (op.kind == OpKind::matmul || op.kind == OpKind::conv2d || op.kind == OpKind::attention)
      macs += op_flops(op) / 2;
  return macs;
}

double propagate_seconds(const Graph& g, const Hardware& hw) {
  double ns = 0;
  for (const Op& op : g.ops)
    if (op.kind == OpKind::matmul || op.kind == OpKind::conv2d || op.kind == OpKind::attention)
      ns += op_flops(op) / 2 *
            numerics::emulation_ns_per_mac(accumulation_model_for(hw, op, hw.compute().operand_dtype(op)));
  return ns * 1e-9;
}

nlohmann::json propagate_error(const Graph& g, const Hardware& hw, const PrecisionOptions& opt, double budget_s) {
  if (is_training_graph(g))
    throw InputError(fmt::format("end-to-end emulation: {} is a training step; it executes forward graphs only",
                                 g.spec.empty() ? g.name : g.spec));
  const double macs = graph_macs(g);
  if (const double s = propagate_seconds(g, hw); s > budget_s)
    throw InputError(fmt::format("end-to-end emulation: {} has {:.3g} multiply-accumulates, an estimated {:.3g} s "
                                 "of emulation over engine.emulation_budget = {:g} s (use a smaller batch, "
                                 "sequence or image, or raise the budget)",
                                 g.spec.empty() ? g.name : g.spec, macs, s, budget_s));
  Executor ex(g, opt);
  std::vector<Tensor> ref(g.ops.size()), emu(g.ops.size());
  std::vector<numerics::AccumulationModel> models;   // one per op, kept alive
  models.reserve(g.ops.size());
  nlohmann::json ops = nlohmann::json::array();
  for (size_t i = 0; i < g.ops.size(); ++i) {
    const Op& op = g.ops[i];
    const DType operand = hw.compute().operand_dtype(op);
    models.push_back(accumulation_model_for(hw, op, operand));
    Path r{true, nullptr}, e{false, &models.back()};
    ref[i] = ex.run(i, r, ref);
    if (operand == op.dtype) {
      emu[i] = ex.run(i, e, emu);
    } else {
      Graph g2 = g;   // the op as the hardware computes it (operand format override)
      g2.ops[i].dtype = operand;
      emu[i] = Executor(g2, opt).run(i, e, emu);
    }
    const Diff d = compare(emu[i], ref[i]);
    ops.push_back({{"name", op.name}, {"normwise_rel_err", d.rel}, {"path", models.back().name}});
  }
  const Diff last = compare(emu.back(), ref.back());
  return {{"ops", ops},
          {"macs", macs},
          {"output",
           {{"name", g.ops.back().name},
            {"normwise_rel_err", last.rel},
            {"max_abs_err", last.max_abs},
            {"snr_db", last.snr_db},
            {"nan", last.nan},
            {"inf", last.inf}}}};
}

}  // namespace tessera
