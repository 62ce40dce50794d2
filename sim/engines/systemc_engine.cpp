// The SystemC engine: the same models, driven by SystemC 2.3 processes.
//
// Each memory level is an sc_module with a TLM-2.0 target socket; its
// b_transport asks the level's model how long the transfer takes, books the
// level (a transfer starts when the previous one it accepted has finished, so
// concurrent initiators contend) and annotates the finish on the delay. A kernel
// runs as two processes that hand over two buffers: a DMA process issuing the
// stage's loads and stores as transactions, and a compute process that waits for
// a loaded buffer, spends the stage's compute time and frees it (the rule of
// pipeline.h, produced by simulation instead of formula).
//
// SystemC allows one elaboration per process, so the modules are built once
// (the Platform below, on first use) with one target per possible memory level,
// and each run binds the current hardware's models to them and simulates as a
// new phase from the current simulation time.
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <fmt/format.h>

#include <cstdlib>
#include <memory>

#include "sim/engines/engine.h"
#include "sim/error.h"

// libsystemc provides main() which calls sc_main(); Tessera has its own main()
// and starts the kernel with sc_start(), so this entry point is never called but
// must exist for the link.
int sc_main(int, char**) { return 0; }

namespace tessera {
namespace {

constexpr int kMaxLevels = 8;

// The transfer a transaction stands for (TLM payloads carry bytes; Tessera's
// transfers are described by their instruction).
struct TransferExt : tlm::tlm_extension<TransferExt> {
  const Instr* instr = nullptr;
  const Kernel* kernel = nullptr;
  const KernelContext* ctx = nullptr;
  tlm::tlm_extension_base* clone() const override { return new TransferExt(*this); }
  void copy_from(const tlm::tlm_extension_base& other) override {
    *this = static_cast<const TransferExt&>(other);
  }
};

struct MemoryTarget : sc_core::sc_module {
  tlm_utils::simple_target_socket<MemoryTarget> socket;
  const MemoryModel* model = nullptr;
  sc_core::sc_time busy_until = sc_core::SC_ZERO_TIME;

  explicit MemoryTarget(sc_core::sc_module_name n) : sc_module(n), socket("socket") {
    socket.register_b_transport(this, &MemoryTarget::b_transport);
  }

  void b_transport(tlm::tlm_generic_payload& trans, sc_core::sc_time& delay) {
    TransferExt* ext = nullptr;
    trans.get_extension(ext);
    if (!ext || !model) {
      trans.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
      return;
    }
    const sc_core::sc_time issue = sc_core::sc_time_stamp() + delay;
    const sc_core::sc_time start = issue > busy_until ? issue : busy_until;
    const sc_core::sc_time dur(model->transfer_time_s(*ext->instr, *ext->kernel, *ext->ctx),
                               sc_core::SC_SEC);
    busy_until = start + dur;
    delay = busy_until - sc_core::sc_time_stamp();
    trans.set_response_status(tlm::TLM_OK_RESPONSE);
  }
};

struct Dma : sc_core::sc_module {
  tlm_utils::simple_initiator_socket<Dma> socket[kMaxLevels];
  explicit Dma(sc_core::sc_module_name n) : sc_module(n) {}
};

struct Platform {
  std::unique_ptr<Dma> dma;
  std::vector<std::unique_ptr<MemoryTarget>> targets;

  Platform() {
    dma = std::make_unique<Dma>("dma");
    for (int i = 0; i < kMaxLevels; ++i) {
      targets.push_back(std::make_unique<MemoryTarget>(fmt::format("mem{}", i).c_str()));
      dma->socket[i].bind(targets.back()->socket);
    }
  }
};

Platform& platform() {
  static Platform* p = [] {
    // Keep stdout clean for reports: no banner from the SystemC kernel.
    setenv("SC_COPYRIGHT_MESSAGE", "DISABLE", 0);
    return new Platform();
  }();
  return *p;
}

class SystemCEngine : public Engine {
 public:
  RunResult run(const Program& p, const Hardware& hw) override {
    using namespace sc_core;
    Platform& plat = platform();
    if (static_cast<int>(hw.memories().size()) > kMaxLevels)
      throw InputError(fmt::format("{}: the systemc engine supports at most {} memory levels",
                                   hw.source, kMaxLevels));
    std::map<std::string, int> level_index;
    for (size_t i = 0; i < hw.memories().size(); ++i) {
      plat.targets[i]->model = hw.memories()[i].second.get();
      plat.targets[i]->busy_until = sc_time_stamp();
      level_index[hw.memories()[i].first] = static_cast<int>(i);
    }
    std::vector<KernelPlan> plans;
    for (const Kernel& k : p.kernels) plans.push_back(plan_kernel(k, hw));
    std::vector<KernelTiming> times(p.kernels.size());
    const sc_time t0 = sc_time_stamp();
    auto seconds = [&](const sc_time& t) { return (t - t0).to_seconds(); };

    sc_spawn([&] {
      for (size_t ki = 0; ki < p.kernels.size(); ++ki) {
        const Kernel& k = p.kernels[ki];
        const KernelPlan& plan = plans[ki];
        times[ki].start_s = seconds(sc_time_stamp());
        wait(sc_time(plan.overhead_s, SC_SEC));
        // Flatten the blocks into stages: (block index, iteration count).
        int64_t total = 0;
        for (const auto& b : k.blocks) total += b.repeat;
        int64_t loaded = 0, computed = 0;
        sc_event ev_loaded, ev_computed;
        auto block_of = [&](int64_t stage) {
          size_t b = 0;
          for (int64_t acc = 0; b < k.blocks.size(); ++b) {
            acc += k.blocks[b].repeat;
            if (stage < acc) break;
          }
          return b;
        };
        sc_process_handle dma = sc_spawn([&] {
          TransferExt ext;
          ext.kernel = &k;
          ext.ctx = &plan.ctx;
          tlm::tlm_generic_payload trans;
          unsigned char dummy = 0;
          trans.set_data_ptr(&dummy);
          trans.set_data_length(1);
          trans.set_extension(&ext);
          for (int64_t i = 0; i < total; ++i) {
            while (computed < i - 1) wait(ev_computed);   // buffer of stage i-2 is free
            const Block& blk = k.blocks[block_of(i)];
            sc_time longest = SC_ZERO_TIME;
            for (const Instr& in : blk.instrs) {
              if (in.op != Opcode::load && in.op != Opcode::store) continue;
              const std::string& level = in.op == Opcode::load ? in.src : in.dst;
              ext.instr = &in;
              trans.set_command(in.op == Opcode::load ? tlm::TLM_READ_COMMAND : tlm::TLM_WRITE_COMMAND);
              trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
              sc_time delay = SC_ZERO_TIME;
              plat.dma->socket[level_index.at(level)]->b_transport(trans, delay);
              if (delay > longest) longest = delay;
            }
            wait(longest);
            ++loaded;
            ev_loaded.notify(SC_ZERO_TIME);
          }
          trans.clear_extension(&ext);
        });
        sc_process_handle comp = sc_spawn([&] {
          for (int64_t i = 0; i < total; ++i) {
            while (loaded < i + 1) wait(ev_loaded);
            wait(sc_time(plan.stages[block_of(i)].compute_s, SC_SEC));
            ++computed;
            ev_computed.notify(SC_ZERO_TIME);
          }
        });
        if (!dma.terminated()) wait(dma.terminated_event());
        if (!comp.terminated()) wait(comp.terminated_event());
        times[ki].end_s = seconds(sc_time_stamp());
      }
    });
    sc_start();
    for (auto& t : plat.targets) t->model = nullptr;
    return finish_run(p, hw, "systemc", plans, times);
  }
};

}  // namespace

std::unique_ptr<Engine> make_systemc_engine() { return std::make_unique<SystemCEngine>(); }

}  // namespace tessera
