// The SystemC engine on a multi-device system (see systemc_system.h).
#include "sim/engines/systemc_system.h"

#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <systemc>
#include <tlm>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>

#include "core/error.h"
#include "models/interconnect/collective.h"
#include "models/interconnect/link.h"
#include "models/interconnect/switch.h"
#include "models/interconnect/system.h"
#include "sim/engines/engine.h"
#include "sim/engines/host_process.h"
#include "sim/engines/systemc_fabric.h"

namespace tessera {
namespace {

using namespace scfabric;
using sc_core::sc_event;
using sc_core::sc_time;
using sc_core::SC_SEC;
using sc_core::SC_ZERO_TIME;

std::optional<PeerPattern> pattern_of(const Instr& in) { return parse_peer_pattern(in.dst); }

bool is_lane(const Component& c) {
  const auto* t = dynamic_cast<const TimedUnit*>(&c);
  return t && t->is_transfer_lane();
}

}  // namespace

bool is_system_program(const Program& p, const Hardware& hw) {
  if (device_count(hw) <= 1) return false;
  for (const Kernel& k : p.kernels)
    for (const Block& b : k.blocks)
      for (const Instr& in : b.instrs) {
        const Component* c = hw.find(instr_unit(in));
        if (c && is_lane(*c)) return true;
      }
  return false;
}

int64_t system_program_ranks(const Program& p, const Hardware& hw) {
  int64_t ranks = 0;
  for (const Kernel& k : p.kernels)
    for (const Block& b : k.blocks)
      for (const Instr& in : b.instrs)
        if (const auto pat = pattern_of(in)) ranks = std::max(ranks, pat->ranks);
  return ranks > 0 ? ranks : device_count(hw);
}

RunResult run_system_systemc(const Program& p, const Hardware& hw, int streams) {
  using namespace sc_core;
  const int64_t N = system_program_ranks(p, hw);
  if (N > k_max_systemc_devices)
    throw InputError(fmt::format(
        "{}: the systemc engine simulates at most {} devices one by one; this program's collectives span {} "
        "ranks on '{}'; use --engine analytic (it simulates each distinct role once, any device count)",
        p.workload, k_max_systemc_devices, N, hw.name));
  setenv("SC_COPYRIGHT_MESSAGE", "DISABLE", 0);
  const SystemModel* sys = find_system(hw);
  const int64_t dpn = sys ? sys->devices_per_node() : 1;
  int64_t stride = 1;
  for (const Kernel& k : p.kernels)
    for (const Block& b : k.blocks)
      for (const Instr& in : b.instrs)
        if (const auto pat = pattern_of(in)) stride = std::max(stride, pat->stride);
  const auto device_of = [&](int64_t r) { return r * stride; };
  const auto node_of = [&](int64_t r) { return device_of(r) / dpn; };

  const size_t n = p.kernels.size();
  for (size_t ki = 0; ki < n; ++ki)
    for (int d : p.kernels[ki].deps)
      if (d < 0 || static_cast<size_t>(d) >= ki)
        throw InputError(fmt::format("kernel {} '{}' depends on kernel {}; a kernel can only depend on earlier "
                                     "kernels (0..{})", ki, p.kernels[ki].name, d, static_cast<int>(ki) - 1));
  std::vector<KernelPlan> plans;
  std::vector<double> shares;
  for (const Kernel& k : p.kernels) {
    plans.push_back(plan_kernel(k, hw));
    shares.push_back(std::clamp(hw.compute().compute_share(k), 0.0, 1.0));
  }

  Fabric fabric;
  RankInitiator initiator;
  const sc_time t0 = sc_time_stamp();
  auto seconds = [&](const sc_time& t) { return (t - t0).to_seconds(); };
  const auto R = static_cast<size_t>(N);
  std::vector<std::vector<KernelTiming>> times(R, std::vector<KernelTiming>(n));
  std::vector<std::vector<int64_t>> xfer_done(R, std::vector<int64_t>(n, 0));   // stages whose transfers ended
  std::vector<std::unique_ptr<sc_event>> progressed;
  for (size_t r = 0; r < R; ++r) progressed.push_back(std::make_unique<sc_event>());
  std::vector<Channel*> compute;
  for (size_t r = 0; r < R; ++r) compute.push_back(&fabric.channel(fmt::format("rank{}.compute", r), 1.0));
  int64_t ranks_left = N;
  // Per rank: its own host, launching its kernels (host_process.h), as each
  // device is driven by its own PyTorch process.
  std::vector<double> host_s;
  for (const KernelPlan& kp : plans) host_s.push_back(kp.host_s);
  const std::vector<char> sync = host_syncs(p);
  std::vector<std::unique_ptr<HostProcess>> hosts;
  for (size_t r = 0; r < R; ++r)
    hosts.push_back(std::make_unique<HostProcess>(host_s, sync, hw.compute().host_queue_depth(), t0));

  // The switch a link's transfers cross, and its port channel for rank r.
  const auto switch_ports = [&](const SwitchModel& s, int64_t r) -> Channel& {
    const bool scale_up = sys && &s == sys->scale_up_switch();
    const std::string key = scale_up ? fmt::format("{}@node{}", s.path(), node_of(r)) : s.path();
    return fabric.channel(key, static_cast<double>(s.chips() * s.ports()) * s.port_payload_bw());
  };
  const auto matches = [&](const SwitchModel& s, const LinkModel& l) {
    if (!sys) return true;
    if (&s == sys->scale_up_switch()) return &l == sys->scale_up_link();
    if (&s == sys->scale_out_switch()) return &l == sys->scale_out_link();
    return true;
  };

  // The flows of one stage's transfer-lane instructions for rank r.
  const auto make_flows = [&](const Kernel& k, const Block& b, int64_t r,
                              std::vector<std::unique_ptr<Flow>>& flows, std::vector<sc_time>& delays) {
    for (const Instr& in : b.instrs) {
      const Component& unit = instr_unit_component(in, k, hw);
      if (!is_lane(unit)) continue;
      auto f = std::make_unique<Flow>();
      sc_time delay;
      const auto* link = dynamic_cast<const LinkModel*>(&unit);
      const auto* sw = dynamic_cast<const SwitchModel*>(&unit);
      if (link && in.bytes > 0) {
        const std::string proto = in.name.empty() ? "simple" : in.name;
        const double share = protocol_data_share(proto);
        // Each port carries the payload rate of all the device's links of this kind.
        const double port = link->link_bandwidth() * link->efficiency() * static_cast<double>(link->links());
        const TransferShape t = link->transfer(in);
        f->remaining = t.amount;
        f->cap = t.rate;
        delay = sc_time(t.fixed_s, SC_SEC);
        const int64_t dev = device_of(r);
        f->uses.emplace_back(&fabric.channel(fmt::format("device{}.{}.tx", dev, link->path()), port), 1.0 / share);
        PeerPattern pat;
        if (const auto parsed = pattern_of(in)) pat = *parsed;
        else pat = PeerPattern{PeerPattern::Kind::ring, 1, N, N, 1};
        const auto rx = [&](int64_t q) -> Channel& {
          return fabric.channel(fmt::format("device{}.{}.rx", device_of(q), link->path()), port);
        };
        if (pat.kind == PeerPattern::Kind::in_switch) f->uses.emplace_back(&rx(r), 1.0 / share);
        for (const auto& [q, part] : pattern_receivers(pat, r))
          if (q < N) f->uses.emplace_back(&rx(q), part / share);
        for (const Instr& other : b.instrs) {
          const auto* s = dynamic_cast<const SwitchModel*>(&instr_unit_component(other, k, hw));
          if (s && matches(*s, *link)) {
            Channel& ports = switch_ports(*s, r);
            if (std::none_of(f->uses.begin(), f->uses.end(), [&](const auto& u) { return u.first == &ports; }))
              f->uses.emplace_back(&ports, 1.0 / share);
          }
        }
      } else if (sw && in.op == Opcode::coll && in.bytes > 0) {
        const TransferShape t = sw->reduction(in);
        const double per_port = sw->port_payload_bw() * sw->reduction_efficiency();
        f->remaining = t.amount;
        f->cap = t.rate;
        delay = sc_time(t.fixed_s, SC_SEC);
        const bool scale_up = sys && sw == sys->scale_up_switch();
        const std::string key =
            scale_up ? fmt::format("{}.reduction@node{}", sw->path(), node_of(r)) : sw->path() + ".reduction";
        f->uses.emplace_back(&fabric.channel(key, static_cast<double>(sw->chips() * sw->ports()) * per_port), 1.0);
      } else {
        // A fixed latency (a switch traversal, an in-switch synchronisation).
        delay = sc_time(dynamic_cast<const TimedUnit&>(unit).busy_time_s(in), SC_SEC);
      }
      flows.push_back(std::move(f));
      delays.push_back(delay);
    }
  };
  // The ranks whose transfers of block `b` feed rank r.
  const auto senders = [&](const Block& b, int64_t r) -> std::vector<int64_t> {
    for (const Instr& in : b.instrs)
      if (const auto pat = pattern_of(in)) {
        std::vector<int64_t> out;
        for (int64_t q : pattern_senders(*pat, r))
          if (q < N) out.push_back(q);
        return out;
      }
    return {};
  };

  const auto run_kernel = [&](int64_t r, size_t ki) {
    const Kernel& k = p.kernels[ki];
    const KernelPlan& plan = plans[ki];
    KernelTiming& kt = times[static_cast<size_t>(r)][ki];
    kt.start_s = seconds(sc_time_stamp());
    kt.blocks.assign(k.blocks.size(), BlockTiming{});
    wait(sc_time(plan.overhead_s, SC_SEC));
    // No stage before the rank's host has launched the kernel (host_process.h).
    kt.host_wait_s = hosts[static_cast<size_t>(r)]->await_launch(ki, plan.launch_s);
    int64_t total = 0;
    std::vector<int64_t> first_stage;
    for (const auto& b : k.blocks) {
      first_stage.push_back(total);
      total += b.repeat;
    }
    auto block_of = [&](int64_t stage) {
      size_t b = 0;
      for (int64_t acc = 0; b < k.blocks.size(); ++b) {
        acc += k.blocks[b].repeat;
        if (stage < acc) break;
      }
      return b;
    };
    int64_t loaded = 0, computed = 0;
    sc_event ev_loaded, ev_computed;
    std::map<std::string, sc_time> mem_free;
    sc_process_handle dma = sc_spawn([&] {
      for (int64_t i = 0; i < total; ++i) {
        while (computed < i - 1) wait(ev_computed);
        const size_t bi = block_of(i);
        const Block& blk = k.blocks[bi];
        if (i > 0)   // the previous stage's data from the ranks that send to this one
          for (int64_t q : senders(k.blocks[block_of(i - 1)], r))
            while (xfer_done[static_cast<size_t>(q)][ki] < i) wait(*progressed[static_cast<size_t>(q)]);
        if (i == first_stage[bi]) kt.blocks[bi].load_start_s = seconds(sc_time_stamp());
        sc_time longest = SC_ZERO_TIME;
        for (const auto& [level, lt] : plan.stages[bi].levels) {
          sc_time& free_at = mem_free[level];
          const sc_time start = std::max(free_at, sc_time_stamp());
          free_at = start + sc_time(lt.time_s, SC_SEC);
          longest = std::max(longest, free_at - sc_time_stamp());
        }
        std::vector<std::unique_ptr<Flow>> flows;
        std::vector<sc_time> delays;
        make_flows(k, blk, r, flows, delays);
        for (size_t f = 0; f < flows.size(); ++f) {   // each transfer as a transaction to the fabric
          Flow& fl = *flows[f];
          fl.initiator = &initiator;
          fl.trans.set_command(tlm::TLM_WRITE_COMMAND);
          fl.trans.set_data_length(0);
          fl.trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
          tlm::tlm_phase phase = tlm::BEGIN_REQ;
          sc_time delay = delays[f];
          fabric.nb_transport_fw(fl.trans, phase, delay);
        }
        wait(longest);
        for (auto& f : flows)
          if (!f->finished) wait(f->done);
        if (i == first_stage[bi] + blk.repeat - 1) kt.blocks[bi].load_end_s = seconds(sc_time_stamp());
        xfer_done[static_cast<size_t>(r)][ki] = i + 1;
        progressed[static_cast<size_t>(r)]->notify(SC_ZERO_TIME);
        ++loaded;
        ev_loaded.notify(SC_ZERO_TIME);
      }
    });
    sc_process_handle comp = sc_spawn([&] {
      for (int64_t i = 0; i < total; ++i) {
        while (loaded < i + 1) wait(ev_loaded);
        const size_t bi = block_of(i);
        if (i == first_stage[bi]) kt.blocks[bi].compute_start_s = seconds(sc_time_stamp());
        const double work = plan.stages[bi].compute_s;
        if (work > 0) {
          Flow f;
          f.remaining = work;
          f.cap = 1;
          f.uses.emplace_back(compute[static_cast<size_t>(r)], shares[ki]);
          fabric.start(&f, SC_ZERO_TIME);
          wait(f.done);
        } else {
          wait(SC_ZERO_TIME);
        }
        if (i == first_stage[bi] + k.blocks[bi].repeat - 1) kt.blocks[bi].compute_end_s = seconds(sc_time_stamp());
        ++computed;
        ev_computed.notify(SC_ZERO_TIME);
      }
    });
    if (!dma.terminated()) wait(dma.terminated_event());
    if (!comp.terminated()) wait(comp.terminated_event());
    kt.end_s = seconds(sc_time_stamp());
  };

  // Per rank: a dispatcher issuing its kernels in program order, each once its
  // dependencies have finished and fewer than `streams` are in flight.
  std::vector<std::vector<char>> finished(R, std::vector<char>(n, 0));
  for (int64_t r = 0; r < N; ++r) {
    hosts[static_cast<size_t>(r)]->spawn();
    sc_spawn([&, r] {
      int in_flight = 0;
      sc_event ev_finished;
      std::vector<int> slots(static_cast<size_t>(streams), 0);
      std::vector<sc_process_handle> handles;
      for (size_t ki = 0; ki < n; ++ki) {
        const auto ready = [&] {
          if (in_flight >= streams) return false;
          for (int d : p.kernels[ki].deps)
            if (!finished[static_cast<size_t>(r)][static_cast<size_t>(d)]) return false;
          return true;
        };
        while (!ready()) wait(ev_finished);
        const int slot = static_cast<int>(std::find(slots.begin(), slots.end(), 0) - slots.begin());
        slots[static_cast<size_t>(slot)] = 1;
        ++in_flight;
        handles.push_back(sc_spawn([&, ki, slot] {
          times[static_cast<size_t>(r)][ki].stream = slot;
          run_kernel(r, ki);
          finished[static_cast<size_t>(r)][ki] = 1;
          hosts[static_cast<size_t>(r)]->retire(ki);
          slots[static_cast<size_t>(slot)] = 0;
          --in_flight;
          ev_finished.notify(SC_ZERO_TIME);
        }));
      }
      for (auto& h : handles)
        if (!h.terminated()) wait(h.terminated_event());
      if (--ranks_left == 0) fabric.stop();
    });
  }
  sc_spawn([&] { fabric.run(); });
  sc_start();
  for (size_t r = 0; r < R; ++r)
    if (std::count(finished[r].begin(), finished[r].end(), 1) != static_cast<long>(n))
      throw std::logic_error("systemc engine: the simulation stopped before every rank finished its kernels");

  // The report is one rank's program: per kernel the timing of the rank that
  // finished it last (a collective ends when its last rank does).
  std::vector<KernelTiming> report(n);
  std::vector<double> rank_end(R, 0);
  size_t critical = 0;
  for (size_t ki = 0; ki < n; ++ki) {
    size_t last = 0;
    for (size_t r = 0; r < R; ++r)
      if (times[r][ki].end_s > times[last][ki].end_s) last = r;
    report[ki] = times[last][ki];
  }
  for (size_t r = 0; r < R; ++r) {
    for (const KernelTiming& t : times[r]) rank_end[r] = std::max(rank_end[r], t.end_s);
    if (rank_end[r] > rank_end[critical]) critical = r;
  }
  // The run ends no sooner than every rank's host is done with its last op.
  double host_done = 0;
  for (size_t r = 0; r < R; ++r) {
    host_done = std::max(host_done, hosts[r]->done_s());
    rank_end[r] = std::max(rank_end[r], hosts[r]->done_s());
    if (rank_end[r] > rank_end[critical]) critical = r;
  }
  const std::string name = streams == 1 ? "systemc" : fmt::format("systemc:streams={}", streams);
  RunResult res = finish_run(p, hw, name, plans, report, streams > 1 ? compute[critical]->busy_s : -1.0, host_done);
  const double first = *std::min_element(rank_end.begin(), rank_end.end());
  nlohmann::json ch = nlohmann::json::array();
  for (const Channel& c : fabric.channels()) {
    if (c.name.rfind("rank", 0) == 0) continue;   // compute units
    ch.push_back({{"channel", c.name},
                  {"busy_s", c.busy_s},
                  {"utilization", res.time_s > 0 ? c.carried / c.capacity / res.time_s : 0.0}});
  }
  res.extra["system_simulation"] = {{"ranks", N},
                                    {"stride", stride},
                                    {"first_rank_end_s", first},
                                    {"last_rank_end_s", rank_end[critical]},
                                    {"last_rank", static_cast<int64_t>(critical)},
                                    {"channels", ch}};
  res.stats.set("system.ranks_simulated", static_cast<double>(N), "1",
                "ranks the systemc engine ran as concurrent processes");
  res.stats.set("system.rank_end_spread", rank_end[critical] - first, "s",
                "last rank's end minus first rank's end (0 when every rank runs at one pace)");
  return res;
}

}  // namespace tessera
