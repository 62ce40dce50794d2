#pragma once
// The host of eager execution as a SystemC process: the recurrence of
// models/compute/host.h produced by simulation instead of formula. The systemc
// engines use one per launching process: one on a single device, one per rank on
// a system (systemc_system.cpp), each driving its own kernels.
//
//   process         launches kernel i = 1..N in program order once fewer than Q
//                   launched kernels are unfinished (Q = host_queue_depth; 0 or
//                   less: unbounded), then spends the op's host time host_i
//                   before the next launch. With kernels finishing in program
//                   order (one stream) the launch is l_i = max(h_{i-1}, end_{i-Q})
//                   and h_i = l_i + host_i, as in HostIssue.
//   await_launch    called by kernel i's process once its own overhead behind its
//                   predecessor has passed (end_{i-1} + overhead_i): it waits
//                   until the host has launched the kernel and the launch has
//                   reached the idle device (l_i + launch_i), so the kernel
//                   begins at max(end_{i-1} + overhead_i, l_i + launch_i); the
//                   time waited is the kernel's host_wait_s. A kernel with
//                   host_i = 0 (a CUDA-graph node: KernelInfo::host_hidden, or
//                   compute.host_mode=graph) is not launched by the host: it
//                   never waits, and the host only counts it against the queue.
//                   A synchronising op (KernelInfo::host_sync: .item()) holds
//                   the process after its host time until its kernel has ended:
//                   h_i = max(h_i, end_i).
//   retire          every finished kernel reports it (frees a queue slot).
//   done_s          h_N: when the host was done with its last op, seconds from
//                   the run's origin (finish_run's host_done_s; the run ends no
//                   sooner).
// Times are kept as seconds from the origin t0 (doubles, as the engines'
// KernelTiming), so the engines' arithmetic is the analytic engine's.
#ifndef SC_INCLUDE_DYNAMIC_PROCESSES
#define SC_INCLUDE_DYNAMIC_PROCESSES
#endif
#include <systemc>

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "isa/isa.h"

namespace tessera {

// Per kernel of `p`: 1 = a synchronising op (KernelInfo::host_sync).
inline std::vector<char> host_syncs(const Program& p) {
  std::vector<char> out;
  out.reserve(p.kernels.size());
  for (const Kernel& k : p.kernels) out.push_back(k.info.host_sync.value_or(0) != 0 ? 1 : 0);
  return out;
}

class HostProcess {
 public:
  // host_s: per kernel in program order, its op's host time (KernelPlan::host_s);
  // sync: per kernel, 1 = the host waits for it to end (KernelInfo::host_sync).
  HostProcess(std::vector<double> host_s, std::vector<char> sync, int64_t queue_depth, const sc_core::sc_time& t0)
      : m_host_s(std::move(host_s)),
        m_sync(std::move(sync)),
        m_depth(static_cast<size_t>(std::max<int64_t>(0, queue_depth))),
        m_issued(m_host_s.size(), -1.0),
        m_finished(m_host_s.size(), 0),
        m_t0(t0) {
    m_sync.resize(m_host_s.size(), 0);
  }
  HostProcess(const HostProcess&) = delete;
  HostProcess& operator=(const HostProcess&) = delete;

  // Starts the process (before sc_start; it refers to this object until it ends).
  void spawn() {
    sc_core::sc_spawn([this] {
      for (size_t ki = 0; ki < m_host_s.size(); ++ki) {
        while (m_depth > 0 && ki >= m_retired + m_depth) sc_core::wait(m_ev_retired);
        m_issued[ki] = seconds();
        m_ev_issued.notify(sc_core::SC_ZERO_TIME);
        if (m_host_s[ki] > 0) sc_core::wait(sc_core::sc_time(m_host_s[ki], sc_core::SC_SEC));
        if (m_sync[ki])
          while (!m_finished[ki]) sc_core::wait(m_ev_retired);
      }
      m_done_s = seconds();
    });
  }

  // In kernel ki's thread: waits for its launch (see above); returns the wait.
  // The wait counts from the call (end_{i-1} + overhead_i), the time spent
  // before the host launched the kernel included: max(0, l_i + launch_i - call).
  double await_launch(size_t ki, double launch_s) {
    if (m_host_s[ki] <= 0) return 0;
    const double from = seconds();
    while (m_issued[ki] < 0) sc_core::wait(m_ev_issued);
    const double ready = m_issued[ki] + launch_s, at = seconds();
    if (ready > at) sc_core::wait(sc_core::sc_time(ready - at, sc_core::SC_SEC));
    return std::max(0.0, ready - from);
  }

  // Kernel ki, launched by this host, has finished.
  void retire(size_t ki) {
    m_finished[ki] = 1;
    ++m_retired;
    m_ev_retired.notify(sc_core::SC_ZERO_TIME);
  }

  double done_s() const { return m_done_s; }

 private:
  double seconds() const { return (sc_core::sc_time_stamp() - m_t0).to_seconds(); }

  std::vector<double> m_host_s;
  std::vector<char> m_sync;
  size_t m_depth = 0;
  std::vector<double> m_issued;   // l_i, seconds from t0 (< 0: not yet launched)
  std::vector<char> m_finished;
  size_t m_retired = 0;
  double m_done_s = 0;
  sc_core::sc_time m_t0;
  sc_core::sc_event m_ev_issued, m_ev_retired;
};

}  // namespace tessera
