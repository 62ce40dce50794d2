#pragma once
// The memory controller of one pseudo-channel (channel): a read queue and a write
// queue of access-sized bursts, FR-FCFS scheduling, a write-drain policy, a page
// policy and refresh, over one Device.
//
// Scheduling at a cycle `now` (one command per cycle on the command bus):
//  1. refresh first: when a refresh is due the controller precharges what it must
//     (PREA for all-bank, PRE of the target bank for per-bank) and issues REFab /
//     REFpb as soon as legal; an all-bank refresh holds every other command back,
//     a per-bank one only those to its bank. Per-bank refresh covers every bank once
//     per round (nREFIpb apart, banks_per_pc per round, i.e. each bank every tREFI)
//     and picks, among the banks not yet refreshed this round, a closed one without
//     queued bursts if there is one (JEDEC leaves the order to the controller);
//  2. the queue served is the read queue, except while draining writes: a drain
//     starts when the write queue reaches `write_high` entries (or the read queue is
//     empty and writes wait) and runs until it is down to `write_low` (or empty when
//     no read waits);
//  3. FR-FCFS over that queue: the oldest ready row hit (RD/WR) first, else the
//     oldest ready ACT/PRE; a bank whose open row some queued burst still hits is
//     not precharged for another row;
//  4. page policy: open (rows stay open), closed (every access auto-precharges:
//     RDA/WRA), adaptive (auto-precharge when no other queued burst hits the row).
// Model is pure in the engine's sense: time is the caller's argument.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "models/memory/dram/device.h"

namespace tessera::dram {

enum class PagePolicy { open, closed, adaptive };
// automatic: per-bank where the standard has it (HBM, LPDDR5: the other banks keep
// serving while one refreshes), all-bank otherwise (DDR4).
enum class RefreshMode { automatic, all_bank, per_bank, none };

// Queue depths: 64 bursts per pseudo-channel and direction. A per-bank refresh
// holds its bank for nRFCpb (200 ns on HBM3); a 32-entry queue fills with the
// stream's bursts to that bank and streams lose ~9 % (HBM3-6400 sequential reads:
// 91.0 % of peak with 32, 99.5 % with 64; tests/memory), so GPU-class depths are used.
struct ControllerConfig {
  int read_queue = 64;
  int write_queue = 64;
  int write_high = 48;  // start draining writes at this many queued
  int write_low = 16;   // stop draining at this many
  PagePolicy page = PagePolicy::open;
  RefreshMode refresh = RefreshMode::automatic;
};

struct Burst {
  int64_t arrival = 0;  // cycle it entered the queue
  int64_t seq = 0;      // arrival order within the controller
  int64_t request = 0;  // id of the request it belongs to
  BankAddr bank;
  bool write = false;
  bool opened = false;  // an ACT was issued for it (row miss)
  bool closed = false;  // a PRE was issued for it (row conflict)
};

// What one served burst reports back.
struct Served {
  int64_t request;
  int64_t done;  // cycle its data transfer ends
  bool write;
};

struct ChannelStats {
  int64_t reads = 0, writes = 0;              // bursts served
  int64_t row_hits = 0, row_misses = 0, row_conflicts = 0;
  int64_t cmd[kCmds] = {};                    // commands issued, by kind
  int64_t refresh_bank_cycles = 0;            // bank-cycles blocked by refresh (REFab: nRFC x banks, REFpb: nRFCpb)
  int64_t read_latency_sum = 0;               // per burst, queue entry to data end, cycles
  int64_t read_latency_max = 0;
  double queue_integral = 0;                  // sum over time of queued bursts (read + write)
  int64_t last_cycle = 0;                     // last data cycle
  int64_t bank_open_cycles = 0;               // filled by finish()
};

class Controller {
 public:
  // `bus`: the command bus of the channel this pseudo-channel belongs to (shared
  // with the channel's other pseudo-channels); none: its own.
  Controller(const Standard& s, const ControllerConfig& cfg, std::shared_ptr<CommandBus> bus = nullptr);
  bool can_accept(bool write) const;
  void enqueue(Burst b, int64_t now);
  // Issues at most one command at `now`; served bursts are appended to `out`.
  void tick(int64_t now, std::vector<Served>& out);
  // Earliest cycle at which tick() may do something; INT64_MAX when idle and no
  // refresh can come due (refresh keeps an idle controller busy only while
  // requests are pending, see busy()).
  int64_t next_event() const { return m_next; }
  bool busy() const { return m_reads.size > 0 || m_writes.size > 0; }
  // Closes the statistics at `end` (time integrals, bank utilisation).
  void finish(int64_t end);
  const ChannelStats& stats() const { return m_stats; }
  const Device& device() const { return m_dev; }

 private:
  // A queue kept per bank, each in arrival order, with the banks that hold bursts:
  // FR-FCFS then looks at one candidate per bank instead of every entry.
  struct Queue {
    std::vector<std::vector<Burst>> bank;
    std::vector<int> active;
    int size = 0;
  };
  void account_queue(int64_t now);
  bool do_refresh(int64_t now);
  Cmd access_cmd(const Burst& b, const Queue& q, size_t self) const;

  Device m_dev;
  ControllerConfig m_cfg;
  Queue m_reads, m_writes;
  int64_t m_seq = 0;
  bool m_draining = false;
  int64_t m_next = INT64_MAX;
  int64_t m_refresh_due = 0;
  int m_refresh_bank = 0;           // bank the pending per-bank refresh targets (-1: not chosen)
  std::vector<char> m_refreshed;    // per bank: refreshed in the current round
  int m_refreshed_count = 0;
  int64_t m_queue_t = 0;
  ChannelStats m_stats;
};

PagePolicy parse_page_policy(const std::string& s, const std::string& where);
RefreshMode parse_refresh_mode(const std::string& s, const std::string& where);

}  // namespace tessera::dram
