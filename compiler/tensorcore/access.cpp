#include "compiler/tensorcore/access.h"

#include <cmath>

namespace tessera::tc_build {

std::optional<AccessPlan> access_plan(const Op& op, const Hardware& hw, const Levels& lv) {
  const MemoryModel* l2 = lv.l2.empty() ? nullptr : hw.memories().front().second.get();
  // Scattered accesses move whole sectors of the first level (32 B on NVIDIA GPUs).
  const double sector = l2 ? std::max(1.0, l2->access_bytes()) : 1.0;
  const double eb = dtype_bytes(op.dtype, 1);
  AccessPlan a;
  if (op.kind == OpKind::embedding && op.attrs.count("order") && !op.get("backward", 0)) {
    // index_select(0, idx): int64 indices streamed, then one table row per token.
    const double tokens = static_cast<double>(op.at("tokens"));
    const double row = eb * static_cast<double>(op.at("dim"));
    const double vocab = static_cast<double>(op.get("vocab", op.at("tokens")));
    const double idx = 8.0 * tokens;
    if (op.at("order") == 1) {
      // Consecutive rows: one stream over the rows read.
      a.dram_reads = a.l2_reads = tokens * row + idx;
      return a;
    }
    // Random rows: each row is read in whole sectors (rows assumed sector-aligned:
    // a row of r bytes touches ceil(r / sector) sectors). While the table fits in
    // the L2 a row drawn twice comes from DRAM once: `tokens` uniform draws over
    // `vocab` rows hit vocab x (1 - (1 - 1/vocab)^tokens) distinct rows.
    const double row_s = std::ceil(row / sector) * sector;
    const double table = vocab * row_s;
    double distinct = tokens;
    if (l2 && l2->reuse_hit_fraction(table) >= 1.0)
      distinct = vocab > 1 ? -vocab * std::expm1(tokens * std::log1p(-1.0 / vocab)) : 1.0;
    a.dram_reads = distinct * row_s + idx;
    a.l2_reads = tokens * row_s + idx;
    a.run = row_s;
    a.pitch = 0;
    return a;
  }
  if (op.kind == OpKind::reduce && (op.attrs.count("stride") || op.get("reread", 0))) {
    const double elems = static_cast<double>(op.get("inputs", 1) * op.at("rows") * op.at("cols"));
    const double span = eb * static_cast<double>(op.get("stride", 1));
    // A stride under a sector reads every sector of x; beyond, one sector per element.
    if (span < sector) {
      a.dram_reads = elems * span;
    } else {
      a.dram_reads = elems * sector;
      if (span >= 2 * sector) {
        a.run = sector;
        a.pitch = span;
      }
    }
    a.l2_reads = a.dram_reads;
    // Read again right after the op before read it: the L2 keeps what it can.
    if (op.get("reread", 0) && l2) {
      const double hit = l2->reuse_hit_fraction(a.l2_reads);
      a.dram_reads *= 1.0 - hit;
      if (hit > 0) a.l2_working_set = a.l2_reads;
    }
    return a;
  }
  if (op.kind == OpKind::copy && op.attrs.count("expand")) {
    // A copy of an expanded view ([.., n, 1, s, d] expanded to [.., n, x, s, d] and
    // reshaped, HF's repeat_kv): the output streams, and each input slice of
    // expand_slice elements is read x times in a row, the later reads from the L2
    // while a slice fits in it (MemoryModel::reuse_hit_fraction of the slice).
    const double n = static_cast<double>(op.at("rows") * op.at("cols"));
    const double x = static_cast<double>(op.at("expand"));
    const double src = n / x;
    const double slice =
        eb * static_cast<double>(op.get("expand_slice", op.at("rows") * op.at("cols") / op.at("expand")));
    const double hit = l2 ? l2->reuse_hit_fraction(slice) : 0.0;
    a.l2_reads = n * eb;
    a.dram_reads = eb * (src + (n - src) * (1.0 - hit));
    if (hit > 0) a.l2_working_set = slice;
    return a;
  }
  if ((op.kind == OpKind::add || op.kind == OpKind::mul) && op.attrs.count("bcast_bytes")) {
    // The last input is a broadcast view (an expanded attn_mask) of elements of
    // bcast_bytes each, read along the output's innermost dim with a stride of
    // bcast_stride elements: TensorIterator's non-contiguous path, one element
    // per lane, consecutive lanes on consecutive outputs. A
    // warp's load touches one sector per lane once the stride spans a sector, and
    // sectors shared by stride-apart lanes below that: min(stride x bytes, sector)
    // bytes cross the L2 per output element. The other inputs stream.
    // Memory time: the view is charged as a stream of its bytes per output
    // element, as if each broadcast copy came from DRAM, even where its own
    // elements would stay in the L2. The shared H100 records of the math backend
    // with a causal mask (an L x S mask re-read by every batch x head slice;
    // section attn, group math) measure the mask add so: against the same calls
    // without a mask, charging only the mask's own bytes predicts 0.72 / 1.43 ms
    // where 0.83 / 1.87 ms are measured (sq = 512 / 1024, d = 64), the stream
    // 1.07 / 2.14 ms; the unvectorised loads with per-element offset arithmetic
    // of that path do not reach the streaming rate of a contiguous kernel.
    const double n = static_cast<double>(op.at("rows") * op.at("cols"));
    const double beb = static_cast<double>(op.get("bcast_bytes", static_cast<int64_t>(eb)));
    const double span = beb * static_cast<double>(op.get("bcast_stride", 1));
    const double streamed = static_cast<double>(op.get("inputs", 2) - 1) * n * eb;
    a.l2_reads = streamed + n * std::min(span, sector);
    a.dram_reads = streamed + n * beb;
    return a;
  }
  return std::nullopt;
}

}  // namespace tessera::tc_build
