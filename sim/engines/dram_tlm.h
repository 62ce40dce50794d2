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
// Example and exact timings: docs/examples/dram_tlm.cpp (built and run by ctest
// `dram_tlm_example`), docs/memory.md "TLM-2.0 target".
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_target_socket.h>

#include <cstdint>
#include <memory>

#include "models/memory/dram/port.h"

namespace tessera {

class DramTarget : public sc_core::sc_module {
 public:
  tlm_utils::simple_target_socket<DramTarget> socket;

  DramTarget(sc_core::sc_module_name name, const dram::Standard& s, const dram::SystemConfig& cfg)
      : sc_module(name), socket("socket"), m_port(std::make_unique<dram::Port>(s, cfg)) {
    socket.register_b_transport(this, &DramTarget::b_transport);
  }

  const dram::Port& port() const { return *m_port; }

  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
    if (trans.get_byte_enable_ptr() != nullptr) {
      trans.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
      return;
    }
    if (trans.get_streaming_width() != 0 && trans.get_streaming_width() < trans.get_data_length()) {
      trans.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
      return;
    }
    const bool write = trans.get_command() == tlm::TLM_WRITE_COMMAND;
    if (!write && trans.get_command() != tlm::TLM_READ_COMMAND) {
      trans.set_response_status(tlm::TLM_COMMAND_ERROR_RESPONSE);
      return;
    }
    if (trans.get_data_length() == 0) {
      trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
      return;
    }
    const double tck_ps = static_cast<double>(m_port->standard().timing.tCK_ps);
    const sc_core::sc_time issue = sc_core::sc_time_stamp() + delay;
    // Whole command-clock cycles: a request arriving mid-cycle is seen at the next edge.
    const auto issue_ps = static_cast<int64_t>(issue.to_seconds() * 1e12 + 0.5);
    const int64_t cycle = (issue_ps + static_cast<int64_t>(tck_ps) - 1) / static_cast<int64_t>(tck_ps);
    const int64_t done = m_port->access(cycle, write, trans.get_address(), trans.get_data_length());
    delay = sc_core::sc_time(static_cast<double>(done) * tck_ps, sc_core::SC_PS) - sc_core::sc_time_stamp();
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
  }

 private:
  std::unique_ptr<dram::Port> m_port;
};

}  // namespace tessera
