// A minimal SystemC virtual platform: one initiator reads three addresses of an
// HBM3-6400 stack through Tessera's TLM-2.0 DRAM target (sim/engines/dram_tlm.h)
// and prints each read's latency. Built and run by ctest `dram_tlm_example`, which
// checks the printed figures; build your own platform the same way (link
// tessera_lib and SystemC; define SC_CPLUSPLUS=201703L with Debian's libsystemc).
//
// Expected, with the standard's timings (HBM3-6400: tCK 0.625 ns, nRCDRD 31,
// nCL 20, nBL 2, nRP 26) and refresh off so that the figures are exact:
//   read 0x000000: bank closed  -> ACT, RD:       nRCDRD + nCL + nBL = 53 cycles = 33.125 ns
//   read 0x001000: same row     -> RD (row hit):  nCL + nBL          = 22 cycles = 13.75 ns
//   read 0x100000: same bank, another row -> PRE, ACT, RD:
//                                  nRP + nRCDRD + nCL + nBL          = 79 cycles = 49.375 ns
// (address map RoBaSiCoBgPcCh: 32 B bursts, then 16 channels, 2 pseudo-channels
// and 4 bank groups below the column bits, so +0x1000 is the next column of the
// same row and +0x100000 the next row of the same bank.)
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
  std::vector<double> latency_ns;
  SC_HAS_PROCESS(Initiator);
  explicit Initiator(sc_core::sc_module_name n) : sc_module(n), socket("socket") { SC_THREAD(run); }

  void run() {
    unsigned char data[32] = {};
    for (uint64_t a : addresses) {
      tlm::tlm_generic_payload t;
      t.set_command(tlm::TLM_READ_COMMAND);
      t.set_address(a);
      t.set_data_ptr(data);
      t.set_data_length(32);
      t.set_streaming_width(32);
      sc_core::sc_time delay = sc_core::SC_ZERO_TIME;
      socket->b_transport(t, delay);
      if (t.get_response_status() != tlm::TLM_OK_RESPONSE) {
        std::printf("read 0x%06llx: error response\n", static_cast<unsigned long long>(a));
        return;
      }
      latency_ns.push_back(delay.to_seconds() * 1e9);
      wait(delay);  // blocking initiator: the next read is issued when this one is done
    }
  }
};

int sc_main(int, char**) {
  tessera::dram::SystemConfig cfg;
  cfg.controller.refresh = tessera::dram::RefreshMode::none;
  const tessera::dram::Standard& hbm3 = tessera::dram::standard("HBM3-6400", "example");
  Initiator init("init");
  tessera::DramTarget mem("hbm3", hbm3, cfg);
  init.socket.bind(mem.socket);
  init.addresses = {0x000000, 0x001000, 0x100000};
  sc_core::sc_start();
  for (size_t i = 0; i < init.latency_ns.size(); ++i)
    std::printf("read 0x%06llx: %.3f ns\n", static_cast<unsigned long long>(init.addresses[i]), init.latency_ns[i]);
  std::printf("row hits %lld, misses %lld, conflicts %lld\n", static_cast<long long>(mem.port().row_hits()),
              static_cast<long long>(mem.port().row_misses()), static_cast<long long>(mem.port().row_conflicts()));
  return init.latency_ns.size() == init.addresses.size() ? 0 : 1;
}
