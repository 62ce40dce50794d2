#pragma once
// A blocking port onto a DRAM memory system: one request at a time, each served
// to completion by the same controllers (queues, FR-FCFS, page policy, refresh)
// and device timing as `simulate` (system.h), with the banks' state (open rows,
// refresh progress, the timing of earlier commands) kept from one request to the
// next. What a TLM-2.0 target's b_transport needs: "a request issued at cycle t
// completes at cycle t'".
//
// Requests are served in call order; a request issued before the previous one
// completed starts when it completes (a blocking port serialises its callers).
// Overlap of independent requests is what `simulate` models.
#include <cstdint>
#include <deque>
#include <map>
#include <vector>

#include "models/memory/dram/address_map.h"
#include "models/memory/dram/controller.h"
#include "models/memory/dram/standard.h"
#include "models/memory/dram/system.h"

namespace tessera::dram {

class Port {
 public:
  Port(const Standard& s, const SystemConfig& cfg);
  // Serves `bytes` at `address` (read or write) issued at command-clock cycle
  // `issue`; returns the cycle the last burst's data transfer ends. InputError for
  // zero bytes or an address range that overflows.
  int64_t access(int64_t issue, bool write, uint64_t address, uint64_t bytes);
  // Non-blocking use (several requests outstanding, as a TLM-2.0 AT target):
  // submit() queues a request issued at cycle `issue` (>= the last step) and
  // returns its id; step(now) runs cycle `now` (admits the bursts issued by then,
  // lets each controller issue its command) and appends the requests whose last
  // burst was served, with the cycle their data end, to `done`. FR-FCFS may serve
  // a later request first (a row hit overtakes a row conflict). next_event() is
  // the next cycle at which step() may do something (INT64_MAX: nothing pending).
  struct Completion {
    int64_t id;
    int64_t done;
  };
  int64_t submit(int64_t issue, bool write, uint64_t address, uint64_t bytes);
  void step(int64_t now, std::vector<Completion>& done);
  int64_t next_event() const;
  const Standard& standard() const { return m_std; }
  int64_t requests() const { return m_requests; }
  int64_t row_hits() const;
  int64_t row_misses() const;     // activates to a closed bank
  int64_t row_conflicts() const;  // precharge + activate

 private:
  // Lets every controller act up to (not including) cycle `until`.
  void advance_idle(int64_t until);

  struct Waiting {  // a burst submitted but not yet in its controller's queue
    int64_t issue;
    int pc;
    Burst burst;
  };
  struct Open {  // a submitted request in flight
    int64_t remaining;
    int64_t done;
  };
  Standard m_std;
  AddressMap m_map;
  std::deque<Waiting> m_waiting;
  std::map<int64_t, Open> m_open;
  std::vector<Controller> m_pcs;
  int64_t m_now = 0, m_requests = 0;
  std::vector<Served> m_served;
};

}  // namespace tessera::dram
