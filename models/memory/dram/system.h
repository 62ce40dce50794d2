#pragma once
// A DRAM memory system: `stacks` stacks (HBM) or device groups (DDR/LPDDR) of one
// Standard, an address mapping, and one Controller per pseudo-channel, driven
// request by request.
//
// A request (`issue` cycle, read or write, address, bytes) is split into the
// access-sized bursts it touches; each burst enters the queue of its
// pseudo-channel. The front end is in order but decoupled per pseudo-channel, as
// many independent requestors are: a burst that finds its controller queue full
// waits in that pseudo-channel's front buffer, and only when the front buffers
// together hold `front_window` bursts does the front end stop issuing (back-
// pressure), so one busy pseudo-channel does not stall the others at once. A request completes
// when its last burst's data have moved; its latency is that cycle minus its
// issue cycle. Pseudo-channels are simulated event by event: a controller is
// visited only at cycles where it may issue a command.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "models/memory/dram/address_map.h"
#include "models/memory/dram/controller.h"
#include "models/memory/dram/standard.h"

namespace tessera::dram {

struct Request {
  int64_t issue = 0;  // command-clock cycle
  bool write = false;
  uint64_t address = 0;
  uint64_t bytes = 0;
};

// Produces requests in non-decreasing issue order; false when exhausted.
class RequestSource {
 public:
  virtual ~RequestSource() = default;
  virtual bool next(Request& r) = 0;
};

struct SystemConfig {
  int stacks = 1;
  std::string mapping = AddressMap::kDefault;
  int front_window = 64;  // bursts waiting in front buffers, per pseudo-channel
  int64_t progress_every = 0;  // > 0: record the cycle at which every this many bursts have been served
  ControllerConfig controller;
};

struct LatencyHistogram {
  std::vector<int64_t> counts;  // counts[c]: requests with latency c < kExact cycles
  std::vector<int64_t> large;   // latencies >= kExact, one entry each (sorted when read)
  static constexpr int64_t kExact = int64_t{1} << 20;
  int64_t total = 0;
  double sum = 0;
  void add(int64_t cycles);
  void remove(int64_t cycles);  // takes back one add(cycles)
  double mean() const { return total ? sum / static_cast<double>(total) : 0; }
  int64_t percentile(double p) const;  // smallest c with at least p of the requests <= c
};

struct Result {
  Standard standard;
  SystemConfig config;
  int64_t requests = 0, read_requests = 0, write_requests = 0;
  int64_t bytes_requested = 0;   // as the requests asked
  int64_t bytes_moved = 0;       // whole bursts on the pins
  int64_t first_issue = 0, end_cycle = 0;
  LatencyHistogram read_latency, write_latency;
  // progress[k]: the data-end cycle of the ((k + 1) x progress_every)-th burst
  // served (in service order), when SystemConfig::progress_every > 0.
  std::vector<int64_t> progress;
  int64_t last_request_latency = -1;  // latency of the last request of the source, cycles
  std::vector<ChannelStats> channels;
  double elapsed_s() const { return static_cast<double>(end_cycle - first_issue) * standard.timing.tCK_s(); }
  double bandwidth_bps() const { return elapsed_s() > 0 ? static_cast<double>(bytes_moved) / elapsed_s() : 0; }
  double peak_bps() const { return standard.peak_bandwidth_bps() * config.stacks; }
  // Energy by command over all channels, joules: act, rd, wr, ref (REFab + REFpb),
  // io, background (per channel over the elapsed time).
  struct EnergyBreakdown {
    double act = 0, rd = 0, wr = 0, ref = 0, io = 0, background = 0;
    double total() const { return act + rd + wr + ref + io + background; }
  };
  EnergyBreakdown energy() const;
};

Result simulate(const Standard& s, const SystemConfig& cfg, RequestSource& src);

}  // namespace tessera::dram
