#pragma once
// A TLM-2.0 target wrapping the cycle-level DRAM model (models/memory/dram/port.h),
// usable in any SystemC virtual platform: bind an initiator socket to `socket`
// and send tlm_generic_payload reads and writes (address, data length; byte
// enables and streaming width are not supported and answer
// TLM_BYTE_ENABLE_ERROR_RESPONSE / TLM_BURST_ERROR_RESPONSE).
//
// b_transport (loosely timed): the request is issued at sc_time_stamp() + delay,
// converted to the DRAM command clock (rounded up to a whole cycle tCK), served by
// the controllers (FR-FCFS, page policy, refresh) over the device timing, and
// `delay` is advanced to the end of its last burst's data transfer. The model keeps
// the banks' state between transactions (open rows, refresh), so a second read
// of an open row returns after the row-hit latency. The target stores no data
// (a timing model): reads leave the payload's data unchanged.
//
// nb_transport (approximately timed, the base protocol's four phases): BEGIN_REQ
// at sc_time_stamp() + delay submits the request to the controllers and is
// answered END_REQ on the return path (TLM_UPDATED; the target's front buffer
// takes every request, the controllers' queues apply back-pressure inside), so an
// initiator may keep several requests outstanding. The target's own process runs
// the controllers cycle by cycle while requests are pending: FR-FCFS may serve a
// later request first (a row hit overtakes an earlier row conflict). When a
// request's last burst has moved, BEGIN_RESP goes back on nb_transport_bw at that
// cycle, one response at a time (the next waits for END_RESP: on the return path,
// TLM_UPDATED/END_RESP or TLM_COMPLETED, or by a later nb_transport_fw(END_RESP)).
// A payload the target rejects (byte enables, streaming, command) is answered at
// once with TLM_COMPLETED and the error status. Transactions with a memory manager
// are acquired while the target holds them.
//
// Example and exact timings: docs/examples/dram_tlm.cpp (b_transport) and
// docs/examples/dram_tlm_nb.cpp (nb_transport), built and run by ctest
// `dram_tlm_example` / `dram_tlm_nb_example`; docs/memory.md "TLM-2.0 target".
#include <systemc>
#include <tlm>
#include <tlm_utils/peq_with_get.h>
#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "models/memory/dram/port.h"

namespace tessera {

class DramTarget : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<DramTarget> socket;

  SC_HAS_PROCESS(DramTarget);
  DramTarget(sc_core::sc_module_name name, const dram::Standard& s, const dram::SystemConfig& cfg)
      : sc_module(name), socket("socket"), m_port(std::make_unique<dram::Port>(s, cfg)), m_resp_peq("resp_peq") {
    socket.register_b_transport(this, &DramTarget::b_transport);
    socket.register_nb_transport_fw(this, &DramTarget::nb_transport_fw);
    SC_THREAD(controllers);
    SC_THREAD(responses);
  }

  const dram::Port& port() const { return *m_port; }

  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
    if (!check(trans)) return;
    const int64_t cycle = cycle_at(sc_core::sc_time_stamp() + delay);
    const int64_t done = m_port->access(cycle, is_write(trans), trans.get_address(), trans.get_data_length());
    delay = time_of(done) - sc_core::sc_time_stamp();
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
  }

  tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload& trans, tlm::tlm_phase& phase,
                                     sc_core::sc_time& delay) {
    if (phase == tlm::END_RESP) {
      m_end_resp.notify(delay);
      return tlm::TLM_COMPLETED;
    }
    if (phase != tlm::BEGIN_REQ) {
      SC_REPORT_ERROR(name(), "nb_transport_fw: expected BEGIN_REQ or END_RESP");
      return tlm::TLM_COMPLETED;
    }
    if (!check(trans)) return tlm::TLM_COMPLETED;
    const int64_t id = m_port->submit(cycle_at(sc_core::sc_time_stamp() + delay), is_write(trans),
                                      trans.get_address(), trans.get_data_length());
    if (trans.has_mm()) trans.acquire();
    m_pending[id] = &trans;
    m_wake.notify(delay);
    phase = tlm::END_REQ;
    return tlm::TLM_UPDATED;
  }

 private:
  static bool is_write(const tlm::tlm_generic_payload& t) { return t.get_command() == tlm::TLM_WRITE_COMMAND; }

  // Sets the error status and returns false for a payload the target does not serve.
  static bool check(tlm::tlm_generic_payload& trans) {
    if (trans.get_byte_enable_ptr() != nullptr) {
      trans.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
      return false;
    }
    if (trans.get_streaming_width() != 0 && trans.get_streaming_width() < trans.get_data_length()) {
      trans.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
      return false;
    }
    if (!is_write(trans) && trans.get_command() != tlm::TLM_READ_COMMAND) {
      trans.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
      return false;
    }
    if (trans.get_data_length() == 0) {
      trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
      return false;
    }
    return true;
  }

  int64_t tck_ps() const { return m_port->standard().timing.tCK_ps; }
  // Whole command-clock cycles: a request arriving mid-cycle is seen at the next edge.
  int64_t cycle_at(const sc_core::sc_time& t) const {
    const auto ps = static_cast<int64_t>(t.to_seconds() * 1e12 + 0.5);
    return (ps + tck_ps() - 1) / tck_ps();
  }
  sc_core::sc_time time_of(int64_t cycle) const {
    return sc_core::sc_time(static_cast<double>(cycle * tck_ps()), sc_core::SC_PS);
  }

  // Runs the controllers at the cycles where they may act while requests are
  // pending; a completed request's response is queued for its data-end cycle.
  void controllers() {
    std::vector<dram::Port::Completion> done;
    for (;;) {
      const int64_t next = m_port->next_event();
      if (next == INT64_MAX) {
        sc_core::wait(m_wake);
        continue;
      }
      const sc_core::sc_time at = time_of(next);
      if (at > sc_core::sc_time_stamp()) {
        sc_core::wait(at - sc_core::sc_time_stamp(), m_wake);  // a new request may come first
        continue;
      }
      done.clear();
      m_port->step(cycle_at(sc_core::sc_time_stamp()), done);
      for (const dram::Port::Completion& c : done) {
        auto it = m_pending.find(c.id);
        tlm::tlm_generic_payload* t = it->second;
        m_pending.erase(it);
        const sc_core::sc_time end = time_of(c.done);
        m_resp_peq.notify(*t, end > sc_core::sc_time_stamp() ? end - sc_core::sc_time_stamp() : sc_core::SC_ZERO_TIME);
      }
      sc_core::wait(time_of(1));  // the next cycle
    }
  }

  // Sends BEGIN_RESP for each completed request, one at a time.
  void responses() {
    for (;;) {
      sc_core::wait(m_resp_peq.get_event());
      while (tlm::tlm_generic_payload* t = m_resp_peq.get_next_transaction()) {
        t->set_response_status(tlm::TLM_OK_RESPONSE);
        tlm::tlm_phase phase = tlm::BEGIN_RESP;
        sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
        const tlm::tlm_sync_enum r = socket->nb_transport_bw(*t, phase, delay);
        if (r == tlm::TLM_ACCEPTED || (r == tlm::TLM_UPDATED && phase != tlm::END_RESP))
          sc_core::wait(m_end_resp);  // the response channel is busy until END_RESP
        if (t->has_mm()) t->release();
      }
    }
  }

  std::unique_ptr<dram::Port> m_port;
  std::map<int64_t, tlm::tlm_generic_payload*> m_pending;
  tlm_utils::peq_with_get<tlm::tlm_generic_payload> m_resp_peq;
  sc_core::sc_event m_wake, m_end_resp;
};

}  // namespace tessera
