#pragma once
// The timing rule of a kernel, shared by both engines (the analytic engine
// evaluates it in closed form, the SystemC engine produces it by simulating a
// DMA process and a compute process that hand over double buffers).
//
// A kernel starts with kernel_overhead_s (launch, fill/drain), then runs its
// blocks in order; every iteration of a block is one stage with
//   l = the largest, over memory levels and links/switches, of the summed
//       transfer times of the stage's loads, stores and sends charged to that
//       level or link (they work in parallel: models/compute/stage_cost.h);
//   c = the summed instr_time_s of the stage's mma/vec/coll instructions, plus the
//       busy time of any other TimedUnit an instruction occupies (models/timed_unit.h).
// With two buffers, stage i's load may start once stage i-1's load is done and
// the buffer of stage i-2 has been consumed:
//   L_i = max(L_{i-1}, C_{i-2}) + l_i        C_i = max(L_i, C_{i-1}) + c_i
// The kernel ends at C_last. For n equal stages from an idle start this is
// l + c + (n-1)*max(l, c).
#include <algorithm>
#include <cstdint>

namespace tessera {

struct PipelineState {
  double load_done = 0;       // L_{i-1}
  double compute_done = 0;    // C_{i-1}
  double compute_done2 = 0;   // C_{i-2}
};

// Advances `s` by `n` equal stages. Exact: after three stages the recurrence is
// periodic with period max(l, c) (each buffer's hand-over no longer waits on the
// start-up transient), so the remaining stages are added in one step.
inline void advance_pipeline(PipelineState& s, double l, double c, int64_t n) {
  int64_t done = 0;
  for (; done < n && done < 3; ++done) {
    const double L = std::max(s.load_done, s.compute_done2) + l;
    const double C = std::max(L, s.compute_done) + c;
    s.load_done = L;
    s.compute_done2 = s.compute_done;
    s.compute_done = C;
  }
  if (done < n) {
    const double shift = static_cast<double>(n - done) * std::max(l, c);
    s.load_done += shift;
    s.compute_done += shift;
    s.compute_done2 += shift;
  }
}

}  // namespace tessera
