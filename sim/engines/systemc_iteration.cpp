// The SystemC engine on a parallel workload's whole iteration (see
// systemc_iteration.h).
#include "sim/engines/systemc_iteration.h"

#include <fmt/format.h>

#include <cstdlib>
#include <deque>
#include <map>
#include <memory>
#include <stdexcept>
#include <tuple>

#include "core/error.h"
#include "sim/engines/systemc_fabric.h"
#include "sim/engines/systemc_system.h"

namespace tessera {
namespace {

using namespace scfabric;
using sc_core::sc_event;
using sc_core::sc_time;
using sc_core::SC_SEC;
using sc_core::SC_ZERO_TIME;

// A collective's meeting point: its members arrive, the last one starts every
// member's flow, and all leave when every flow has ended.
struct Rendezvous {
  int64_t arrived = 0;
  bool done = false;
  sc_event ev_done;
  std::vector<std::unique_ptr<Flow>> flows;
};

// An overlapped stream of a device: collectives in issue order.
struct Stream {
  std::deque<const IterOp*> queue;
  int64_t pending = 0;          // queued or running
  int64_t pushed = 0, completed = 0;  // ever: a push's ordinal is `pushed` after it
  bool running = false;               // a collective of the stream is running
  sc_event ev_push, ev_drained, ev_completed, ev_running;
  bool stop = false;
};

class IterationSim {
 public:
  explicit IterationSim(const IterationPlan& p) : m_p(p), m_n(p.tp * p.pp * p.dp), m_chunks(p.pp * p.v) {
    const auto N = static_cast<size_t>(m_n);
    const auto slots = static_cast<size_t>(m_chunks * p.m);
    m_fwd_in.assign(N, std::vector<char>(slots, 0));
    m_bwd_in.assign(N, std::vector<char>(slots, 0));
    for (size_t g = 0; g < N; ++g) {
      m_arrival.push_back(std::make_unique<sc_event>());
      m_every.push_back(std::make_unique<Stream>());
      m_late.push_back(std::make_unique<Stream>());
    }
    m_end.assign(N, 0);
    m_spans.resize(N);
    m_seq.resize(N);
  }

  IterationResult run() {
    using namespace sc_core;
    m_t0 = sc_time_stamp();
    int64_t left = m_n;
    for (int64_t g = 0; g < m_n; ++g) {
      sc_spawn([this, g] { stream_loop(g, *m_every[static_cast<size_t>(g)], 1); });
      sc_spawn([this, g] { stream_loop(g, *m_late[static_cast<size_t>(g)], 2); });
      sc_spawn([this, g, &left] {
        device_main(g);
        if (--left == 0) m_fabric.stop();
      });
    }
    sc_spawn([this] { m_fabric.run(); });
    sc_start();
    if (left != 0) throw std::logic_error("systemc iteration: the simulation stopped before every device finished");
    IterationResult r;
    r.device_end_s = m_end;
    r.spans = std::move(m_spans);
    for (double e : m_end) r.iteration_s = std::max(r.iteration_s, e);
    for (const Channel& c : m_fabric.channels())
      r.channels.push_back({c.name, c.busy_s, r.iteration_s > 0 ? c.carried / c.capacity / r.iteration_s : 0.0});
    r.flows = m_flows;
    return r;
  }

 private:
  double now_s() const { return (sc_core::sc_time_stamp() - m_t0).to_seconds(); }
  int64_t position(int64_t g) const { return g / (m_p.tp * m_p.dp); }
  int64_t replica(int64_t g) const { return g % (m_p.tp * m_p.dp); }
  int64_t device_at(int64_t pos, int64_t rep) const { return rep + pos * m_p.tp * m_p.dp; }
  size_t slot(int64_t chunk, int64_t mb) const { return static_cast<size_t>(chunk * m_p.m + mb); }

  static void wait_s(double s) {
    if (s > 0) sc_core::wait(sc_time(s, SC_SEC));
  }

  // Device g's flow for `op`'s bytes to device `to`, and the wire time alone.
  std::unique_ptr<Flow> make_flow(const IterOp& op, int64_t g, int64_t to, double& wire_s) {
    wire_s = 0;
    for (const IterWire& w : op.wires)
      if (w.bytes > 0 && w.port_bw > 0) wire_s = std::max(wire_s, w.bytes / w.port_bw);
    wire_s = std::min(wire_s, op.duration_s);
    auto f = std::make_unique<Flow>();
    if (wire_s <= 0) return f;
    f->remaining = wire_s;   // seconds of wire time at full rate
    f->cap = 1;
    for (const IterWire& w : op.wires) {
      if (w.bytes <= 0 || w.port_bw <= 0) continue;
      const double weight = w.bytes / wire_s;
      f->uses.emplace_back(&m_fabric.channel(fmt::format("device{}.{}.tx", g, w.link), w.port_bw), weight);
      f->uses.emplace_back(&m_fabric.channel(fmt::format("device{}.{}.rx", to, w.link), w.port_bw), weight);
      if (!w.sw.empty() && w.sw_bw > 0) {
        const std::string key =
            w.sw_per_node ? fmt::format("{}@node{}", w.sw, g / std::max<int64_t>(1, m_p.devices_per_node)) : w.sw;
        f->uses.emplace_back(&m_fabric.channel(key, w.sw_bw), weight);
      }
    }
    ++m_flows;
    return f;
  }

  // Starts `f` after the op's fixed part; the caller waits for f->done.
  void launch(Flow& f, const IterOp& op, double wire_s) {
    m_fabric.start(&f, sc_time(std::max(0.0, op.duration_s - wire_s), SC_SEC));
  }

  void collective(int64_t g, const IterOp& op, int stream) {
    const int64_t n = std::max<int64_t>(1, op.ranks), s = std::max<int64_t>(1, op.stride);
    if (n == 1) {
      wait_s(op.duration_s);
      return;
    }
    const int64_t pos = (g / s) % n, base = g - pos * s;
    const auto gk = std::make_tuple(stream, base, s, n);
    const int64_t seq = m_seq[static_cast<size_t>(g)][gk]++;
    auto& slot = m_rv[std::make_tuple(stream, base, s, n, seq)];
    if (!slot) slot = std::make_unique<Rendezvous>();
    Rendezvous& rv = *slot;
    if (++rv.arrived < n) {
      while (!rv.done) sc_core::wait(rv.ev_done);
      return;
    }
    // The last member: every member sends to its successor now.
    double wire_s = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t from = base + i * s, to = base + ((i + 1) % n) * s;
      rv.flows.push_back(make_flow(op, from, to, wire_s));
    }
    if (wire_s <= 0) {
      wait_s(op.duration_s);
    } else {
      for (auto& f : rv.flows) launch(*f, op, wire_s);
      for (auto& f : rv.flows)
        while (!f->finished) sc_core::wait(f->done);
    }
    rv.done = true;
    rv.ev_done.notify(SC_ZERO_TIME);
  }

  void stream_loop(int64_t g, Stream& st, int id) {
    while (true) {
      while (st.queue.empty() && !st.stop) sc_core::wait(st.ev_push);
      if (st.queue.empty()) return;
      const IterOp* op = st.queue.front();
      st.queue.pop_front();
      const double t0 = now_s();
      st.running = true;
      st.ev_running.notify(SC_ZERO_TIME);
      collective(g, *op, id);
      st.running = false;
      st.ev_running.notify(SC_ZERO_TIME);
      span(g, {id == 2 ? IterSpan::Kind::dp : IterSpan::Kind::comm, -1, -1, t0, now_s(), op->name});
      ++st.completed;
      st.ev_completed.notify(SC_ZERO_TIME);
      if (--st.pending == 0) st.ev_drained.notify(SC_ZERO_TIME);
    }
  }
  static int64_t push(Stream& st, const IterOp& op) {
    st.queue.push_back(&op);
    ++st.pending;
    st.ev_push.notify(SC_ZERO_TIME);
    return ++st.pushed;
  }
  static void drain(Stream& st) {
    while (st.pending > 0) sc_core::wait(st.ev_drained);
  }

  // The pass a task runs: a backward's form for its microbatch (IterationPlan).
  const IterPass& pass_of(const IterTask& t) const {
    const auto c = static_cast<size_t>(t.chunk);
    if (!t.backward) return m_p.fwd[c];
    if (t.mb == m_p.m - 1 || m_p.bwd_first.empty()) return m_p.bwd[c];
    return (t.mb == 0 ? m_p.bwd_first : m_p.bwd_middle)[c];
  }

  // A compute op: its time alone, or its crowded time while a collective of the
  // device's communication stream or of its DDP buckets' stream runs beside it
  // (IterOp::crowded_s); on each change the share of the op left runs at the new
  // rate.
  static void compute(Stream& every, Stream& late, const IterOp& op) {
    if (!(op.crowded_s > op.duration_s)) {
      wait_s(op.duration_s);
      return;
    }
    double left = 1;
    while (true) {
      const double d = every.running || late.running ? op.crowded_s : op.duration_s;
      const sc_time need(left * d, SC_SEC);
      if (need == SC_ZERO_TIME) return;
      const sc_time t0 = sc_core::sc_time_stamp();
      sc_core::wait(need, every.ev_running | late.ev_running);
      const sc_time elapsed = sc_core::sc_time_stamp() - t0;
      if (elapsed >= need) return;
      left -= elapsed.to_seconds() / d;
    }
  }

  void run_pass(int64_t g, const IterPass& pass, bool last_mb) {
    Stream& every = *m_every[static_cast<size_t>(g)];
    std::vector<int64_t> ordinal(pass.ops.size(), 0);  // overlap_every: its push's
    for (size_t k = 0; k < pass.ops.size(); ++k) {
      const IterOp& op = pass.ops[k];
      if (op.waits_for >= 0) {  // a prefetched parameter gather (issue_order)
        const int64_t need = ordinal.at(static_cast<size_t>(op.waits_for));
        while (every.completed < need) sc_core::wait(every.ev_completed);
      }
      switch (op.kind) {
        case IterOp::Kind::compute:
          compute(every, *m_late[static_cast<size_t>(g)], op);
          break;
        case IterOp::Kind::collective: collective(g, op, 0); break;
        case IterOp::Kind::overlap_every:
          ordinal[k] = push(every, op);
          break;
        case IterOp::Kind::overlap_last:
          if (last_mb) push(*m_late[static_cast<size_t>(g)], op);
          break;
      }
    }
    wait_s(pass.tail_s);
    drain(every);
  }

  // The pipeline transfer after a pass of chunk `from_chunk`: from g to `to`,
  // marking `flag` on arrival.
  void send(int64_t g, int64_t to, const IterPass& pass, std::vector<char>& flags, size_t at,
            int64_t from_chunk) {
    sc_core::sc_spawn([this, g, to, &pass, &flags, at, from_chunk] {
      const double t0 = now_s();
      double wire_s = 0;
      std::unique_ptr<Flow> f = make_flow(pass.p2p, g, to, wire_s);
      if (wire_s <= 0) {
        wait_s(pass.p2p.duration_s);
      } else {
        launch(*f, pass.p2p, wire_s);
        while (!f->finished) sc_core::wait(f->done);
      }
      wait_s(pass.p2p_extra_s);
      // Named as the analytic schedule names its sends (parallel_timeline.cpp).
      const int64_t to_chunk = static_cast<int64_t>(at) / m_p.m, mb = static_cast<int64_t>(at) % m_p.m;
      span(g, {IterSpan::Kind::send, from_chunk, mb, t0, now_s(),
               fmt::format("send {} mb {} to chunk {}", to_chunk < from_chunk ? 'B' : 'F', mb, to_chunk)});
      flags[at] = 1;
      m_arrival[static_cast<size_t>(to)]->notify(SC_ZERO_TIME);
    });
  }

  // A blocking pipeline transfer: started by whichever of its two ends posts
  // second; delivered when its flow has run (the sender goes on), finished when
  // the receiver's all-gather (scatter/gather) has too.
  struct Transfer {
    bool sent = false, received = false, delivered = false, finished = false;
    sc_event done;
    std::unique_ptr<Flow> flow;
  };
  Transfer& transfer_of(int64_t rep, bool backward, int64_t sender_chunk, int64_t mb) {
    auto& x = m_transfers[std::make_tuple(rep, backward, sender_chunk, mb)];
    if (!x) x = std::make_unique<Transfer>();
    return *x;
  }
  // A posted end: the transfer, and whether this end waits for the receiver's all-gather.
  struct End {
    Transfer* x;
    bool sender;
  };
  void post(int64_t rep, bool backward, int64_t sender_chunk, int64_t mb, bool sender,
            std::vector<End>& wait) {
    Transfer& x = transfer_of(rep, backward, sender_chunk, mb);
    (sender ? x.sent : x.received) = true;
    wait.push_back({&x, sender});
    if (!(x.sent && x.received)) return;
    const IterPass& pass = (backward ? m_p.bwd : m_p.fwd)[static_cast<size_t>(sender_chunk)];
    const int64_t to_chunk = backward ? sender_chunk - 1 : sender_chunk + 1;
    const int64_t from = device_at(sender_chunk % m_p.pp, rep), to = device_at(to_chunk % m_p.pp, rep);
    sc_core::sc_spawn([this, &x, &pass, from, to] {
      if (pass.has_p2p) {
        double wire_s = 0;
        x.flow = make_flow(pass.p2p, from, to, wire_s);
        if (wire_s <= 0) {
          wait_s(pass.p2p.duration_s);
        } else {
          launch(*x.flow, pass.p2p, wire_s);
          while (!x.flow->finished) sc_core::wait(x.flow->done);
        }
      }
      x.delivered = true;
      x.done.notify(SC_ZERO_TIME);
      if (pass.has_p2p) wait_s(pass.p2p_extra_s);
      x.finished = true;
      x.done.notify(SC_ZERO_TIME);
    });
  }
  // The exchange between two steps: the sends of `before`'s tasks and the
  // receives of `after`'s, posted together; returns when all have arrived.
  void exchange(int64_t g, const std::vector<const IterTask*>& before,
                const std::vector<const IterTask*>& after) {
    const int64_t rep = replica(g), C = m_chunks;
    std::vector<End> wait;
    for (const IterTask* t : before)
      if (t->backward ? t->chunk > 0 : t->chunk + 1 < C) post(rep, t->backward, t->chunk, t->mb, true, wait);
    for (const IterTask* t : after)
      if (t->backward ? t->chunk + 1 < C : t->chunk > 0)
        post(rep, t->backward, t->backward ? t->chunk + 1 : t->chunk - 1, t->mb, false, wait);
    for (const End& e : wait)
      while (!(e.sender ? e.x->delivered : e.x->finished)) sc_core::wait(e.x->done);
  }

  void device_main_blocking(int64_t g) {
    const int64_t d = position(g);
    const auto& order = m_p.order[static_cast<size_t>(d)];
    size_t i = 0;
    std::vector<const IterTask*> before;
    for (int size : m_p.step_sizes[static_cast<size_t>(d)]) {
      std::vector<const IterTask*> step;
      for (int k = 0; k < size; ++k) step.push_back(&order.at(i++));
      timed_exchange(g, before, step);
      for (const IterTask* t : step) timed_pass(g, *t);
      before = std::move(step);
    }
    timed_exchange(g, before, {});
  }

  void span(int64_t g, IterSpan s) {
    if (s.end_s > s.start_s) m_spans[static_cast<size_t>(g)].push_back(std::move(s));
  }
  void timed_exchange(int64_t g, const std::vector<const IterTask*>& before,
                      const std::vector<const IterTask*>& after) {
    const double t0 = now_s();
    exchange(g, before, after);
    span(g, {IterSpan::Kind::exchange, -1, -1, t0, now_s(), ""});
  }
  void timed_pass(int64_t g, const IterTask& t) {
    const double t0 = now_s();
    run_pass(g, pass_of(t), t.backward && t.mb == m_p.m - 1);
    span(g,
         {t.backward ? IterSpan::Kind::backward : IterSpan::Kind::forward, t.chunk, t.mb, t0, now_s(), ""});
  }

  // Overlapped transfers: each task waits for its input, runs, and sends its
  // output without waiting for it to arrive.
  void device_main_overlapped(int64_t g) {
    const int64_t d = position(g), rep = replica(g), C = m_chunks, pp = m_p.pp;
    const auto G = static_cast<size_t>(g);
    for (const IterTask& t : m_p.order[static_cast<size_t>(d)]) {
      const IterPass& pass = pass_of(t);
      // Its input: the previous chunk's activation, the next chunk's gradient.
      const bool needs = t.backward ? t.chunk + 1 < C : t.chunk > 0;
      if (needs) {
        auto& flags = t.backward ? m_bwd_in[G] : m_fwd_in[G];
        while (!flags[slot(t.chunk, t.mb)]) sc_core::wait(*m_arrival[G]);
      }
      timed_pass(g, t);
      const int64_t next = t.backward ? t.chunk - 1 : t.chunk + 1;
      if (next >= 0 && next < C) {
        const int64_t to = device_at(next % pp, rep);
        auto& flags = t.backward ? m_bwd_in[static_cast<size_t>(to)] : m_fwd_in[static_cast<size_t>(to)];
        if (pass.has_p2p) {
          send(g, to, pass, flags, slot(next, t.mb), t.chunk);
        } else {
          flags[slot(next, t.mb)] = 1;
          m_arrival[static_cast<size_t>(to)]->notify(SC_ZERO_TIME);
        }
      }
    }
  }

  void device_main(int64_t g) {
    const int64_t d = position(g), pp = m_p.pp;
    const auto G = static_cast<size_t>(g);
    if (m_p.blocking)
      device_main_blocking(g);
    else
      device_main_overlapped(g);
    drain(*m_late[G]);
    for (int64_t j = 0; j < m_p.v; ++j) {
      const double t0 = now_s();
      run_pass(g, m_p.opt[static_cast<size_t>(j * pp + d)], false);
      span(g, {IterSpan::Kind::optimizer, j * pp + d, -1, t0, now_s(), ""});
    }
    m_end[G] = now_s();
    for (Stream* st : {m_every[G].get(), m_late[G].get()}) {
      st->stop = true;
      st->ev_push.notify(SC_ZERO_TIME);
    }
  }

  const IterationPlan& m_p;
  const int64_t m_n, m_chunks;
  Fabric m_fabric;
  sc_time m_t0;
  std::vector<std::vector<char>> m_fwd_in, m_bwd_in;   // [device][chunk x m + mb]: input arrived
  std::map<std::tuple<int64_t, bool, int64_t, int64_t>, std::unique_ptr<Transfer>> m_transfers;
  std::vector<std::unique_ptr<sc_event>> m_arrival;
  std::vector<std::unique_ptr<Stream>> m_every, m_late;
  std::vector<std::map<std::tuple<int, int64_t, int64_t, int64_t>, int64_t>> m_seq;
  std::map<std::tuple<int, int64_t, int64_t, int64_t, int64_t>, std::unique_ptr<Rendezvous>> m_rv;
  std::vector<double> m_end;
  std::vector<std::vector<IterSpan>> m_spans;  // per global rank
  int64_t m_flows = 0;
};

}  // namespace

IterationResult simulate_iteration_systemc(const IterationPlan& plan) {
  const int64_t n = plan.tp * plan.pp * plan.dp;
  if (n > k_max_systemc_devices)
    throw InputError(fmt::format("the systemc engine simulates at most {} devices one by one; this iteration has {} "
                                 "(tp x pp x dp); use --engine analytic (it simulates each distinct role once, any "
                                 "device count)", k_max_systemc_devices, n));
  if (static_cast<int64_t>(plan.order.size()) != plan.pp ||
      static_cast<int64_t>(plan.fwd.size()) != plan.pp * plan.v || plan.bwd.size() != plan.fwd.size() ||
      plan.opt.size() != plan.fwd.size() || plan.bwd_first.size() != plan.bwd_middle.size() ||
      (!plan.bwd_first.empty() && plan.bwd_first.size() != plan.fwd.size()) ||
      (plan.blocking && plan.step_sizes.size() != plan.order.size()))
    throw std::logic_error("systemc iteration: plan sizes do not match pp x virtual_stages");
  setenv("SC_COPYRIGHT_MESSAGE", "DISABLE", 0);
  IterationSim sim(plan);
  return sim.run();
}

}  // namespace tessera
