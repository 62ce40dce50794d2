#include "models/memory/dram/port.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "core/error.h"

namespace tessera::dram {

Port::Port(const Standard& s, const SystemConfig& cfg)
    : m_std(s), m_map(s.org, cfg.stacks, cfg.mapping, "mapping") {
  if (cfg.stacks < 1) throw InputError(fmt::format("DRAM {}: stacks = {} must be >= 1", s.name, cfg.stacks));
  const int npc = s.org.pcs() * cfg.stacks;
  m_pcs.reserve(static_cast<size_t>(npc));
  // The pseudo-channels of one channel share its command bus (device.h).
  std::shared_ptr<CommandBus> bus;
  for (int i = 0; i < npc; ++i) {
    if (i % s.org.pseudo_channels == 0) bus = std::make_shared<CommandBus>(s);
    m_pcs.emplace_back(s, cfg.controller, bus);
  }
}

void Port::advance_idle(int64_t until) {
  // Refresh commands of idle controllers happen at their own cycles.
  for (Controller& c : m_pcs) {
    int64_t t = c.next_event();
    while (t < until) {
      m_served.clear();
      c.tick(t, m_served);
      t = std::max(t + 1, c.next_event());
    }
  }
}

int64_t Port::access(int64_t issue, bool write, uint64_t address, uint64_t bytes) {
  if (bytes == 0) throw InputError(fmt::format("DRAM port request {}: zero bytes", m_requests));
  if (address > UINT64_MAX - bytes) throw InputError(fmt::format("DRAM port request {}: address overflows", m_requests));
  int64_t now = std::max(issue, m_now);
  advance_idle(now);
  const uint64_t ab = static_cast<uint64_t>(m_std.org.access_bytes());
  const uint64_t first = address / ab, last = (address + bytes - 1) / ab;
  const int64_t id = m_requests++;
  int64_t remaining = static_cast<int64_t>(last - first + 1), done = now;
  uint64_t next_burst = first;
  while (remaining > 0) {
    // Admit what the queues take now (the bursts of one request in order).
    while (next_burst <= last) {
      const Location loc = m_map.decode(next_burst * ab);
      Controller& c = m_pcs[static_cast<size_t>(loc.pc)];
      if (!c.can_accept(write)) break;
      Burst b;
      b.request = id;
      b.bank = loc.bank;
      b.write = write;
      c.enqueue(b, now);
      ++next_burst;
    }
    int64_t next = INT64_MAX;
    for (Controller& c : m_pcs) {
      if (c.next_event() <= now) {
        m_served.clear();
        c.tick(now, m_served);
        for (const Served& sv : m_served) {
          if (sv.request != id) continue;
          done = std::max(done, sv.done);
          --remaining;
        }
      }
      if (c.busy()) next = std::min(next, c.next_event());
    }
    if (remaining == 0) break;
    if (next == INT64_MAX) throw std::logic_error("DRAM port stalled with bursts pending");
    now = std::max(next, now + 1);
    advance_idle(now);
  }
  // The data of the last burst end at `done`; the next request starts no earlier
  // than the cycle the controllers were last visited (time never runs backwards).
  m_now = std::max(now + 1, issue);
  return done;
}

int64_t Port::submit(int64_t issue, bool write, uint64_t address, uint64_t bytes) {
  if (bytes == 0) throw InputError(fmt::format("DRAM port request {}: zero bytes", m_requests));
  if (address > UINT64_MAX - bytes) throw InputError(fmt::format("DRAM port request {}: address overflows", m_requests));
  const int64_t at = std::max(issue, m_now);
  const uint64_t ab = static_cast<uint64_t>(m_std.org.access_bytes());
  const uint64_t first = address / ab, last = (address + bytes - 1) / ab;
  const int64_t id = m_requests++;
  for (uint64_t k = first; k <= last; ++k) {
    const Location loc = m_map.decode(k * ab);
    Burst b;
    b.request = id;
    b.bank = loc.bank;
    b.write = write;
    m_waiting.push_back({at, loc.pc, b});
  }
  m_open[id] = {static_cast<int64_t>(last - first + 1), at};
  return id;
}

void Port::step(int64_t now, std::vector<Completion>& done) {
  now = std::max(now, m_now);
  // Idle controllers catch up on refresh; busy ones are visited at their events.
  for (Controller& c : m_pcs) {
    if (c.busy()) continue;
    int64_t t = c.next_event();
    while (t < now) {
      m_served.clear();
      c.tick(t, m_served);
      t = std::max(t + 1, c.next_event());
    }
  }
  // Admit, in submission order, the bursts issued by now that their queues take.
  while (!m_waiting.empty() && m_waiting.front().issue <= now) {
    Waiting& w = m_waiting.front();
    Controller& c = m_pcs[static_cast<size_t>(w.pc)];
    if (!c.can_accept(w.burst.write)) break;
    c.enqueue(w.burst, now);
    m_waiting.pop_front();
  }
  for (Controller& c : m_pcs) {
    if (c.next_event() > now) continue;
    m_served.clear();
    c.tick(now, m_served);
    for (const Served& sv : m_served) {
      auto it = m_open.find(sv.request);
      if (it == m_open.end()) continue;  // a blocking access() of the same port
      it->second.done = std::max(it->second.done, sv.done);
      if (--it->second.remaining == 0) {
        done.push_back({sv.request, it->second.done});
        m_open.erase(it);
      }
    }
  }
  m_now = now + 1;
}

int64_t Port::next_event() const {
  int64_t next = INT64_MAX;
  if (!m_waiting.empty()) next = std::max(m_waiting.front().issue, m_now);
  for (const Controller& c : m_pcs)
    if (c.busy()) next = std::min(next, std::max(c.next_event(), m_now));
  return next;
}

int64_t Port::row_hits() const {
  int64_t n = 0;
  for (const Controller& c : m_pcs) n += c.stats().row_hits;
  return n;
}
int64_t Port::row_misses() const {
  int64_t n = 0;
  for (const Controller& c : m_pcs) n += c.stats().row_misses;
  return n;
}
int64_t Port::row_conflicts() const {
  int64_t n = 0;
  for (const Controller& c : m_pcs) n += c.stats().row_conflicts;
  return n;
}

}  // namespace tessera::dram
