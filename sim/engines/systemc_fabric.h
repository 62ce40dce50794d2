#pragma once
// The SystemC engine's fabric: channels (link ports, switch ports, compute
// units) and the flows on them, shared max-min fairly, the flows travelling as
// TLM-2.0 transactions. Used by the engine on a system (systemc_system.cpp) and
// by the whole-iteration simulation of a parallel workload
// (systemc_iteration.cpp); internal to sim/engines.
#define SC_INCLUDE_DYNAMIC_PROCESSES
#include <systemc>
#include <tlm>

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace tessera::scfabric {

using sc_core::sc_event;
using sc_core::sc_time;
using sc_core::SC_SEC;
using sc_core::SC_ZERO_TIME;

// A shared channel: a port of a device, a switch's ports, a device's compute
// units. `capacity` in units per second (bytes/s; compute: 1 = the whole units).
struct Channel {
  std::string name;
  double capacity = 0;
  // Set by the rate computation.
  double rem = 0, weight = 0, usage = 0;
  // Accounting: time with a flow on it, and the amount it carried.
  double busy_s = 0, carried = 0;
};

struct Flow;

// The flow a TLM-2.0 transaction stands for (its bytes, rate and channels).
struct FlowExt : tlm::tlm_extension<FlowExt> {
  Flow* flow = nullptr;
  tlm::tlm_extension_base* clone() const override { return new FlowExt(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override { flow = static_cast<const FlowExt&>(other).flow; }
};

// A transfer (or a stage's compute) in flight: `remaining` units, at most `cap`
// units per second, loading each channel it uses by weight x its rate. A
// transfer travels as a TLM-2.0 transaction (`trans`) from its rank to the fabric.
struct Flow {
  double remaining = 0;
  double cap = 0;
  std::vector<std::pair<Channel*, double>> uses;
  sc_time start;
  double rate = 0;
  bool frozen = false, finished = false;
  sc_event done;
  tlm::tlm_generic_payload trans;
  FlowExt ext;
  tlm::tlm_bw_transport_if<>* initiator = nullptr;   // told BEGIN_RESP when the flow ends

  Flow() {
    ext.flow = this;
    trans.set_extension(&ext);
  }
  ~Flow() { trans.clear_extension(&ext); }
  Flow(const Flow&) = delete;
  Flow& operator=(const Flow&) = delete;
};

// A rank's side of the transactions: the fabric's BEGIN_RESP ends the flow.
struct RankInitiator : tlm::tlm_bw_transport_if<> {
  tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                     sc_time& delay) override {
    FlowExt* e = nullptr;
    trans.get_extension(e);
    if (e && phase == tlm::BEGIN_RESP) e->flow->done.notify(delay);
    phase = tlm::END_RESP;
    return tlm::TLM_COMPLETED;
  }
  void invalidate_direct_mem_ptr(sc_dt::uint64, sc_dt::uint64) override {}
};

// The channels and the flows on them: max-min fair rates (progressive filling),
// recomputed whenever a flow starts or ends. A manager process wakes at the
// next start or finish. Ranks reach it as a TLM-2.0 target: nb_transport_fw with
// BEGIN_REQ starts the transaction's flow after the annotated delay (its fixed
// latency) and answers END_REQ; when the flow has moved its bytes the fabric
// sends BEGIN_RESP back through the initiator's nb_transport_bw. b_transport
// does both and returns when the flow ends.
class Fabric : public tlm::tlm_fw_transport_if<> {
 public:
  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                     sc_time& delay) override {
    FlowExt* e = nullptr;
    trans.get_extension(e);
    if (!e || phase != tlm::BEGIN_REQ) {
      trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
      return tlm::TLM_COMPLETED;
    }
    start(e->flow, delay);
    phase = tlm::END_REQ;
    return tlm::TLM_UPDATED;
  }
  void b_transport(tlm::tlm_generic_payload& trans, sc_time& delay) override {
    FlowExt* e = nullptr;
    trans.get_extension(e);
    if (!e) {
      trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
      return;
    }
    e->flow->initiator = nullptr;
    start(e->flow, delay);
    sc_core::wait(e->flow->done);
    delay = SC_ZERO_TIME;
  }
  bool get_direct_mem_ptr(tlm::tlm_generic_payload&, tlm::tlm_dmi&) override { return false; }
  unsigned int transport_dbg(tlm::tlm_generic_payload&) override { return 0; }

  Channel& channel(const std::string& name, double capacity) {
    auto [it, fresh] = m_index.try_emplace(name, m_channels.size());
    if (fresh) m_channels.push_back(Channel{name, capacity});
    return m_channels[it->second];
  }
  const std::deque<Channel>& channels() const { return m_channels; }

  // `f` starts `delay` from now (its fixed latency), then moves its amount.
  void start(Flow* f, const sc_time& delay) {
    f->start = sc_core::sc_time_stamp() + delay;
    m_pending.push_back(f);
    m_wake.notify(SC_ZERO_TIME);
  }
  void stop() {
    m_stop = true;
    m_wake.notify(SC_ZERO_TIME);
  }
  void run() {
    m_last = sc_core::sc_time_stamp();
    while (true) {
      sc_core::wait(m_wake);
      if (m_stop) return;
      update();
    }
  }

 private:
  void update() {
    const sc_time now = sc_core::sc_time_stamp();
    const double dt = (now - m_last).to_seconds();
    if (dt > 0) {
      for (Channel& c : m_channels)
        if (c.usage > 0) {
          c.busy_s += dt;
          c.carried += c.usage * dt;
        }
      for (Flow* f : m_active) f->remaining -= f->rate * dt;
    }
    m_last = now;
    for (auto it = m_pending.begin(); it != m_pending.end();) {
      if ((*it)->start <= now) {
        m_active.push_back(*it);
        it = m_pending.erase(it);
      } else {
        ++it;
      }
    }
    // Finished: nothing left, up to two time-resolution steps of its rate.
    std::vector<Flow*> running;
    for (Flow* f : m_active) {
      if (f->remaining <= f->rate * 2e-12 + 1e-300) {
        f->finished = true;
        f->trans.set_response_status(tlm::TLM_OK_RESPONSE);
        if (f->initiator) {
          tlm::tlm_phase phase = tlm::BEGIN_RESP;
          sc_time delay = SC_ZERO_TIME;
          f->initiator->nb_transport_bw(f->trans, phase, delay);
        } else {
          f->done.notify(SC_ZERO_TIME);
        }
      } else {
        running.push_back(f);
      }
    }
    m_active = std::move(running);
    share();
    double next = std::numeric_limits<double>::infinity();
    for (Flow* f : m_active) next = std::min(next, f->remaining / f->rate);
    for (Flow* f : m_pending) next = std::min(next, (f->start - now).to_seconds());
    m_wake.cancel();
    if (next < std::numeric_limits<double>::infinity()) m_wake.notify(sc_time(std::max(0.0, next), SC_SEC));
  }

  // Max-min fair rates with per-flow caps (progressive filling).
  void share() {
    for (Channel& c : m_channels) {
      c.rem = c.capacity;
      c.weight = 0;
      c.usage = 0;
    }
    std::vector<Flow*> open;
    for (Flow* f : m_active) {
      f->rate = 0;
      f->frozen = false;
      open.push_back(f);
      for (auto& [c, w] : f->uses) c->weight += w;
    }
    while (!open.empty()) {
      double inc = std::numeric_limits<double>::infinity();
      for (Flow* f : open) {
        inc = std::min(inc, f->cap - f->rate);
        for (auto& [c, w] : f->uses)
          if (c->weight > 0) inc = std::min(inc, c->rem / c->weight);
      }
      inc = std::max(0.0, inc);
      for (Flow* f : open) {
        f->rate += inc;
        for (auto& [c, w] : f->uses) c->rem -= inc * w;
      }
      std::vector<Flow*> still;
      for (Flow* f : open) {
        bool freeze = f->cap - f->rate <= 1e-12 * f->cap;
        for (auto& [c, w] : f->uses)
          if (w > 0 && c->rem <= 1e-12 * c->capacity) freeze = true;
        if (freeze) {
          for (auto& [c, w] : f->uses) c->weight -= w;
        } else {
          still.push_back(f);
        }
      }
      if (still.size() == open.size()) break;   // cannot happen: something froze at inc
      open = std::move(still);
    }
    for (Flow* f : m_active)
      for (auto& [c, w] : f->uses) c->usage += f->rate * w;
  }

  std::deque<Channel> m_channels;
  std::map<std::string, size_t> m_index;
  std::vector<Flow*> m_active, m_pending;
  sc_event m_wake;
  sc_time m_last;
  bool m_stop = false;
};

}  // namespace tessera::scfabric
