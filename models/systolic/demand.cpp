#include "models/systolic/demand.h"
#include "core/math.h"

#include <algorithm>
#include <deque>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace tessera::systolic::detail {

DemandView::DemandView(std::int64_t rows, std::int64_t cols, Dataflow df, const Layer& layer,
                       std::int64_t ifmap_offset, std::int64_t filter_offset,
                       std::int64_t ofmap_offset)
    : m_rows(rows),
      m_cols(cols),
      m_df(df),
      m_layer(layer),
      m_geo(fold_geometry(rows, cols, df, layer)),
      m_oh(layer.ofmap_h()),
      m_ow(layer.ofmap_w()),
      m_k(layer.window()),
      m_n(layer.num_filters),
      m_ifmap_offset(ifmap_offset),
      m_filter_offset(filter_offset),
      m_ofmap_offset(ofmap_offset) {}

// operand_matrix.calc_ifmap_elem_addr: row p of the im2col matrix is ofmap pixel
// (p / Ew, p % Ew); column k walks the window in (filter row, filter col, channel)
// order; windows that run past the ifmap edge request nothing (-1).
std::int64_t DemandView::ifmap_addr(std::int64_t p, std::int64_t k) const {
  const Layer& L = m_layer;
  const std::int64_t i_row = (p / m_ow) * L.stride_h;
  const std::int64_t i_col = (p % m_ow) * L.stride_w;
  const std::int64_t c_row = k / (L.filter_w * L.channels);
  const std::int64_t rem = k % (L.filter_w * L.channels);
  const std::int64_t c_col = rem / L.channels;
  const std::int64_t c_ch = rem % L.channels;
  if (c_row + i_row >= L.ifmap_h || c_col + i_col >= L.ifmap_w) return -1;
  return (i_row + c_row) * L.ifmap_w * L.channels + (i_col + c_col) * L.channels + c_ch +
         m_ifmap_offset;
}

// calc_filter_elem_addr: filter n occupies K consecutive words.
std::int64_t DemandView::filter_addr(std::int64_t k, std::int64_t n) const {
  return n * m_k + k + m_filter_offset;
}

// calc_ofmap_elem_addr: pixel-major, filters innermost.
std::int64_t DemandView::ofmap_addr(std::int64_t p, std::int64_t n) const {
  return m_n * p + n + m_ofmap_offset;
}

std::int64_t DemandView::width(Operand op) const {
  switch (op) {
    case Operand::ifmap: return m_df == Dataflow::is ? m_cols : m_rows;
    case Operand::filter: return m_df == Dataflow::is ? m_rows : m_cols;
    case Operand::ofmap: return m_cols;
  }
  return 0;
}

// Each case mirrors how systolic_compute_{os,ws,is}.py builds one fold of the
// demand matrix: prefix rows of -1, the operand tile (padded to the array,
// flipped where SCALE-Sim flips it), suffix rows, then a skew that delays
// column c by c lines.
std::int64_t DemandView::address(Operand op, std::int64_t f, std::int64_t l,
                                 std::int64_t c) const {
  const std::int64_t R = m_rows, C = m_cols, T = m_geo.t;
  const std::int64_t fc = f / m_geo.row_folds, fr = f % m_geo.row_folds;
  const std::int64_t rows_used = std::min(R, m_geo.sr - fr * R);
  const std::int64_t cols_used = std::min(C, m_geo.sc - fc * C);
  switch (m_df) {
    case Dataflow::os:
      if (op == Operand::ifmap) {  // ifmap^T tile (T x R), skewed
        const std::int64_t tau = l - c;
        if (tau < 0 || tau >= T || c >= rows_used) return -1;
        return ifmap_addr(fr * R + c, tau);
      }
      if (op == Operand::filter) {  // filter tile (T x C), skewed
        const std::int64_t tau = l - c;
        if (tau < 0 || tau >= T || c >= cols_used) return -1;
        return filter_addr(tau, fc * C + c);
      }
      {  // T-1 idle lines, then the ofmap tile flipped upside down, skewed
        const std::int64_t rr = l - c - (T - 1);
        if (rr < 0 || rr >= R) return -1;
        const std::int64_t orig = R - 1 - rr;
        if (orig >= rows_used || c >= cols_used) return -1;
        return ofmap_addr(fr * R + orig, fc * C + c);
      }
    case Dataflow::ws:
      if (op == Operand::ifmap) {  // R weight-load lines, ifmap tile (T x R), skewed
        const std::int64_t tau = l - c - R;
        if (tau < 0 || tau >= T || c >= rows_used) return -1;
        return ifmap_addr(tau, fr * R + c);
      }
      if (op == Operand::filter) {  // flipped filter tile in the first R lines, no skew
        if (l >= R) return -1;
        const std::int64_t orig = R - 1 - l;
        if (orig >= rows_used || c >= cols_used) return -1;
        return filter_addr(fr * R + orig, fc * C + c);
      }
      {  // 2R-1 idle lines, then ofmap (T x C), skewed
        const std::int64_t tau = l - c - (2 * R - 1);
        if (tau < 0 || tau >= T || c >= cols_used) return -1;
        return ofmap_addr(tau, fc * C + c);
      }
    case Dataflow::is:
      if (op == Operand::ifmap) {  // flipped ifmap^T tile (R x C) in the first R lines
        if (l >= R) return -1;
        const std::int64_t orig = R - 1 - l;
        if (orig >= rows_used || c >= cols_used) return -1;
        return ifmap_addr(fc * C + c, fr * R + orig);
      }
      if (op == Operand::filter) {  // R idle lines, filter^T tile (T x R), skewed
        const std::int64_t tau = l - c - R;
        if (tau < 0 || tau >= T || c >= rows_used) return -1;
        return filter_addr(fr * R + c, tau);
      }
      {  // 2R-1 idle lines, then ofmap^T (T x C), skewed
        const std::int64_t tau = l - c - (2 * R - 1);
        if (tau < 0 || tau >= T || c >= cols_used) return -1;
        return ofmap_addr(fc * C + c, tau);
      }
  }
  return -1;
}

bool DemandView::line_has_request(Operand op, std::int64_t f, std::int64_t l) const {
  // Only the columns the skew can place on line l may hold a request (the cases
  // of address(): column c carries tile row l - c - delay, within [0, span), and
  // c below the rows or columns the fold uses); an unskewed tile occupies the
  // first R lines only. So a line costs at most span column checks, not the
  // array width: first_line and last_line of a very wide array stay cheap.
  const std::int64_t R = m_rows, C = m_cols, T = m_geo.t;
  const std::int64_t fc = f / m_geo.row_folds, fr = f % m_geo.row_folds;
  const std::int64_t rows_used = std::min(R, m_geo.sr - fr * R);
  const std::int64_t cols_used = std::min(C, m_geo.sc - fc * C);
  std::int64_t delay = -1, span = 0, used = cols_used;   // delay -1: unskewed, lines < R
  switch (m_df) {
    case Dataflow::os:
      if (op == Operand::ofmap) delay = T - 1, span = R;
      else delay = 0, span = T, used = op == Operand::ifmap ? rows_used : cols_used;
      break;
    case Dataflow::ws:
      if (op == Operand::ifmap) delay = R, span = T, used = rows_used;
      else if (op == Operand::ofmap) delay = 2 * R - 1, span = T;
      break;
    case Dataflow::is:
      if (op == Operand::filter) delay = R, span = T, used = rows_used;
      else if (op == Operand::ofmap) delay = 2 * R - 1, span = T;
      break;
  }
  std::int64_t lo = 0, hi = std::min(width(op), used);   // columns [lo, hi)
  if (delay >= 0) {
    lo = std::max(lo, l - delay - span + 1);
    hi = std::min(hi, l - delay + 1);
  } else if (l >= R) {
    return false;
  }
  for (std::int64_t c = lo; c < hi; ++c)
    if (address(op, f, l, c) != -1) return true;
  return false;
}

std::int64_t DemandView::first_line(Operand op) const {
  const std::int64_t L = m_geo.cycles_per_fold;
  for (std::int64_t f = 0; f < folds(); ++f)
    for (std::int64_t l = 0; l < L; ++l)
      if (line_has_request(op, f, l)) return f * L + l;
  return -1;
}

std::int64_t DemandView::last_line(Operand op) const {
  const std::int64_t L = m_geo.cycles_per_fold;
  for (std::int64_t f = folds() - 1; f >= 0; --f)
    for (std::int64_t l = L - 1; l >= 0; --l)
      if (line_has_request(op, f, l)) return f * L + l;
  return -1;
}

namespace {


// read_buffer_estimate_bw.ReadBufferEstimateBw. Unique addresses are grouped in
// sets of floor(words / 100); the active half holds 50 sets. When the 50th set
// of the window completes, the window's sets are "prefetched" (counted as DRAM
// reads over the cycles since the previous prefetch) and evicted. Addresses
// seen in live sets are hits. Memory is bounded: only live sets are kept.
class EstimateReadBuffer {
 public:
  EstimateReadBuffer(std::int64_t size_words, std::int64_t default_bw)
      : m_items_per_set(size_words / 100), m_default_bw(default_bw) {}

  void service_line(const std::int64_t* addrs, std::int64_t n, std::int64_t cycle) {
    if (!m_first_seen) {
      for (std::int64_t i = 0; i < n; ++i)
        if (addrs[i] > -1) {
          m_first_cycle = cycle;
          m_first_seen = true;
          break;
        }
    }
    for (std::int64_t i = 0; i < n; ++i)
      if (addrs[i] != -1) manage(cycle, addrs[i]);
  }

  void complete() {
    if (m_cur_count > 0) {
      m_sizes.push_back(m_cur_count);
    } else {
      --m_cur_id;  // an empty current set is not counted
    }
    if (!m_done) {
      m_last_end = -1 - kPortLatency;
      const std::int64_t sets = m_cur_id + 1;
      const std::int64_t needed = ceil_div(sets * m_items_per_set, m_default_bw);
      m_last_start = m_last_end - needed + 1;
      prefetch(0, sets - 1);
      m_done = true;
    } else {
      prefetch(m_prefetch_start, m_cur_id);
    }
  }

  std::int64_t accesses() const { return m_accesses; }
  double start() const { return static_cast<double>(m_trace_start); }
  double stop() const { return static_cast<double>(m_trace_stop); }

 private:
  static constexpr std::int64_t kPortLatency = 1;  // read_port.latency
  static constexpr std::int64_t kSetsHalf = 50;    // int(0.5 * 100) active, 50 prefetch

  void manage(std::int64_t cycle, std::int64_t addr) {
    auto it = m_where.find(addr);
    if (it != m_where.end() && it->second >= m_read_start) return;  // live set or current set
    m_where[addr] = m_cur_id;
    m_cur_addrs.push_back(addr);
    ++m_cur_count;
    if (m_cur_count != m_items_per_set) return;
    m_sizes.push_back(m_cur_count);
    m_set_addrs.push_back(std::move(m_cur_addrs));
    m_cur_addrs.clear();
    m_cur_count = 0;
    ++m_cur_id;
    if (m_cur_id != m_read_end + 1) return;
    if (!m_done) {
      m_last_end = m_first_cycle - 1 - kPortLatency;
      const std::int64_t needed = ceil_div(kSetsHalf * m_items_per_set, m_default_bw);
      m_last_start = m_last_end - needed + 1;
      prefetch(0, kSetsHalf - 1);
      m_prefetch_start = m_read_end + 1;
      m_done = true;
    } else {
      prefetch(m_prefetch_start, m_prefetch_start + kSetsHalf - 1);
      m_prefetch_start += kSetsHalf;
    }
    // Evict the window's sets.
    for (std::int64_t j = 0; j < kSetsHalf; ++j) {
      for (std::int64_t a : m_set_addrs.front()) {
        auto w = m_where.find(a);
        if (w != m_where.end() && w->second == m_read_start + j) m_where.erase(w);
      }
      m_set_addrs.pop_front();
    }
    m_read_start += kSetsHalf;
    m_read_end += kSetsHalf;
    m_last_start = m_last_end + 1;
    m_last_end = cycle;
  }

  // Counts sets [first, last] as read over [m_last_start, m_last_end] (+ port latency).
  void prefetch(std::int64_t first, std::int64_t last) {
    for (std::int64_t s = first; s <= last; ++s)
      if (s >= m_sizes_base && s - m_sizes_base < static_cast<std::int64_t>(m_sizes.size()))
        m_accesses += m_sizes[static_cast<std::size_t>(s - m_sizes_base)];
    if (!m_trace_valid) {
      m_trace_start = m_last_start + kPortLatency;
      m_trace_valid = true;
    }
    m_trace_stop = m_last_end + kPortLatency;
    // Sizes of sets that can no longer be prefetched are dropped (bounded memory).
    while (m_sizes_base < first) {
      m_sizes.pop_front();
      ++m_sizes_base;
    }
  }

  std::int64_t m_items_per_set;
  std::int64_t m_default_bw;
  std::unordered_map<std::int64_t, std::int64_t> m_where;  // address -> set id (live sets)
  std::deque<std::vector<std::int64_t>> m_set_addrs;       // addresses of completed live sets
  std::vector<std::int64_t> m_cur_addrs;
  std::deque<std::int64_t> m_sizes;  // sizes of sets from m_sizes_base on
  std::int64_t m_sizes_base = 0;
  std::int64_t m_cur_count = 0, m_cur_id = 0;
  std::int64_t m_read_start = 0, m_read_end = kSetsHalf - 1, m_prefetch_start = -1;
  std::int64_t m_last_start = -2, m_last_end = -1, m_first_cycle = 0;
  bool m_first_seen = false, m_done = false, m_trace_valid = false;
  std::int64_t m_accesses = 0, m_trace_start = 0, m_trace_stop = 0;
};

// write_buffer.write_buffer with a zero-latency write_port. Stored words form
// lines of `bw` words; once more than half the buffer is occupied (and no drain
// is in flight) ceil(half / bw) lines drain, one per cycle. Only the counts of
// lines not yet drained are kept.
class WriteBuffer {
 public:
  WriteBuffer(std::int64_t size_words, std::int64_t bw)
      : m_total(size_words),
        m_drain(size_words - ceil_div(size_words, 2)),
        m_bw(bw),
        m_free(size_words) {}

  std::int64_t service_line(const std::int64_t* addrs, std::int64_t n, std::int64_t cycle) {
    std::int64_t cc = cycle;
    for (std::int64_t i = 0; i < n; ++i) {
      if (addrs[i] == -1) continue;
      store();
      if (cc < m_drain_end) {
        if (!(m_free > 0)) cc = m_drain_end;
      } else if (m_free < m_total - m_drain) {
        flush();
        m_drain_end = empty(cc);
      }
    }
    return cc;
  }

  void empty_all(std::int64_t cycle) {
    flush();
    while (!m_lines.empty()) {
      m_drain_end = empty(cycle);
      cycle = m_drain_end + 1;
    }
  }

  std::int64_t accesses() const { return m_accesses; }
  double start() const { return static_cast<double>(m_start); }
  double stop() const { return static_cast<double>(m_stop); }

 private:
  void store() {
    ++m_line_idx;
    --m_free;
    if (m_line_idx >= m_bw) {
      m_lines.push_back(m_line_idx);
      m_line_idx = 0;
    }
  }
  void flush() {
    if (m_line_idx != 0) {
      m_lines.push_back(m_line_idx);
      m_line_idx = 0;
    }
  }
  std::int64_t empty(std::int64_t start) {
    const std::int64_t n = std::min<std::int64_t>(ceil_div(m_drain, m_bw),
                                                  static_cast<std::int64_t>(m_lines.size()));
    if (n == 0) return start;
    // Every drained line counts as full except for the -1 holes of the last one.
    const std::int64_t size = n * m_bw - (m_bw - m_lines[static_cast<std::size_t>(n - 1)]);
    m_lines.erase(m_lines.begin(), m_lines.begin() + n);
    m_accesses += size;
    if (!m_valid) {
      m_start = start;
      m_valid = true;
    }
    m_stop = start + n - 1;
    m_free += size;
    return start + n - 1;
  }

  std::int64_t m_total, m_drain, m_bw, m_free;
  std::int64_t m_line_idx = 0;
  std::deque<std::int64_t> m_lines;  // valid words per undrained line
  std::int64_t m_drain_end = 0, m_accesses = 0, m_start = 0, m_stop = 0;
  bool m_valid = false;
};

}  // namespace

ReplayResult replay_scalesim_calc(const DemandView& view, const ArrayConfig& cfg) {
  const FoldGeometry& g = view.geometry();
  // single_layer_sim.run, CALC mode: ifmap/filter backing bandwidth 10 words per
  // cycle ("arbitrary"), ofmap backing bandwidth = array columns; word size 1.
  EstimateReadBuffer ifmap(cfg.ifmap_sram_bytes, 10), filter(cfg.filter_sram_bytes, 10);
  WriteBuffer ofmap(cfg.ofmap_sram_bytes, cfg.cols);
  const std::int64_t wi = view.width(Operand::ifmap), wf = view.width(Operand::filter),
                     wo = view.width(Operand::ofmap);
  std::vector<std::int64_t> li(static_cast<std::size_t>(wi)), lf(static_cast<std::size_t>(wf)),
      lo(static_cast<std::size_t>(wo));
  std::int64_t stall = 0, last_out = 0, line = 0;
  for (std::int64_t f = 0; f < view.folds(); ++f) {
    for (std::int64_t l = 0; l < g.cycles_per_fold; ++l, ++line) {
      const std::int64_t cycle = line + stall;
      for (std::int64_t c = 0; c < wi; ++c) li[c] = view.address(Operand::ifmap, f, l, c);
      for (std::int64_t c = 0; c < wf; ++c) lf[c] = view.address(Operand::filter, f, l, c);
      for (std::int64_t c = 0; c < wo; ++c) lo[c] = view.address(Operand::ofmap, f, l, c);
      ifmap.service_line(li.data(), wi, cycle);
      filter.service_line(lf.data(), wf, cycle);
      last_out = ofmap.service_line(lo.data(), wo, cycle);
      stall += std::max<std::int64_t>(0, last_out - cycle);
    }
  }
  ifmap.complete();
  filter.complete();
  ofmap.empty_all(last_out);

  ReplayResult r;
  r.total_cycles = last_out;
  r.stall_cycles = stall;
  r.ifmap_dram_reads = ifmap.accesses();
  r.filter_dram_reads = filter.accesses();
  r.ofmap_dram_writes = ofmap.accesses();
  r.ifmap_dram_start = ifmap.start();
  r.ifmap_dram_stop = ifmap.stop();
  r.filter_dram_start = filter.start();
  r.filter_dram_stop = filter.stop();
  r.ofmap_dram_start = ofmap.start();
  r.ofmap_dram_stop = ofmap.stop();
  return r;
}

}  // namespace tessera::systolic::detail
