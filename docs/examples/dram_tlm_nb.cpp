// An approximately-timed SystemC initiator on Tessera's TLM-2.0 DRAM target
// (sim/engines/dram_tlm.h): three reads sent back to back with nb_transport, all
// outstanding at once, so the controller's FR-FCFS scheduler may reorder them.
// Built and run by ctest `dram_tlm_nb_example`, which checks the printed figures.
//
// HBM3-6400 (tCK 0.625 ns; nRCDRD 31, nCL 20, nBL 2, nCCDL 4, nRAS 45, nRTP 9,
// nRP 26, nRC 72), refresh off, address map RoBaSiCoBgPcCh (+0x1000: next column
// of the same row, +0x100000: next row of the same bank). All three reads go to
// bank 0 of pseudo-channel 0, sent at time 0 in the order A, B, C:
//   A 0x000000 row 0  bank closed: ACT at 0, RD at nRCDRD = 31, data end 31 + nCL + nBL = 53
//   B 0x100000 row 1  row conflict: waits, the bank's open row still has a queued hit (C)
//   C 0x001000 row 0  row hit: RD at RD(A) + nCCDL = 35, data end 35 + 22 = 57
//   B then: PRE at max(ACT + nRAS, RD(C) + nRTP) = max(45, 44) = 45,
//           ACT at max(PRE + nRP, ACT + nRC) = max(71, 72) = 72, RD at 72 + 31 = 103,
//           data end 103 + 22 = 125
// Responses (BEGIN_RESP) therefore come in the order A, C, B at 53, 57 and 125
// cycles = 33.125, 35.625 and 78.125 ns. A blocking initiator (b_transport, one
// request at a time) would get them in the order sent, C only after B's conflict.
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>

#include <cstdio>
#include <vector>

#include "models/memory/dram/standard.h"
#include "sim/engines/dram_tlm.h"

struct Initiator : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Initiator> socket;
  std::vector<uint64_t> addresses;
  tlm::tlm_generic_payload trans[3];
  std::vector<const char*> names;
  struct Response {
    const char* name;
    uint64_t address;
    double ns;
  };
  std::vector<Response> responses;
  unsigned char data[3][32] = {};
  SC_HAS_PROCESS(Initiator);
  explicit Initiator(sc_core::sc_module_name n) : sc_module(n), socket("socket") {
    socket.register_nb_transport_bw(this, &Initiator::nb_transport_bw);
    SC_THREAD(run);
  }

  void run() {
    for (size_t i = 0; i < addresses.size(); ++i) {
      tlm::tlm_generic_payload& t = trans[i];
      t.set_command(tlm::TLM_READ_COMMAND);
      t.set_address(addresses[i]);
      t.set_data_ptr(data[i]);
      t.set_data_length(32);
      t.set_streaming_width(32);
      tlm::tlm_phase phase = tlm::BEGIN_REQ;
      sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
      const tlm::tlm_sync_enum r = socket->nb_transport_fw(t, phase, delay);
      // The target takes the request at once: END_REQ on the return path, so the
      // next BEGIN_REQ may follow in the same cycle.
      if (r != tlm::TLM_UPDATED || phase != tlm::END_REQ) {
        std::printf("request %s: not accepted\n", names[i]);
        return;
      }
    }
  }

  tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload& t, tlm::tlm_phase& phase, sc_core::sc_time&) {
    if (phase != tlm::BEGIN_RESP) return tlm::TLM_ACCEPTED;
    const size_t i = static_cast<size_t>(&t - trans);
    responses.push_back({names[i], addresses[i], sc_core::sc_time_stamp().to_seconds() * 1e9});
    phase = tlm::END_RESP;  // the response is taken at once
    return tlm::TLM_UPDATED;
  }
};

int sc_main(int, char**) {
  tessera::dram::SystemConfig cfg;
  cfg.controller.refresh = tessera::dram::RefreshMode::none;
  const tessera::dram::Standard& hbm3 = tessera::dram::standard("HBM3-6400", "example");
  Initiator init("init");
  tessera::DramTarget mem("hbm3", hbm3, cfg);
  init.socket.bind(mem.socket);
  init.addresses = {0x000000, 0x100000, 0x001000};
  init.names = {"A", "B", "C"};
  sc_core::sc_start();
  for (const Initiator::Response& r : init.responses)
    std::printf("response %s 0x%06llx: %.3f ns\n", r.name, static_cast<unsigned long long>(r.address), r.ns);
  std::printf("row hits %lld, misses %lld, conflicts %lld\n", static_cast<long long>(mem.port().row_hits()),
              static_cast<long long>(mem.port().row_misses()), static_cast<long long>(mem.port().row_conflicts()));
  return init.responses.size() == init.addresses.size() ? 0 : 1;
}
