// The SystemC engine: the same models, driven by SystemC 2.3 processes.
//
// Each memory level is an sc_module with a TLM-2.0 target socket; its
// b_transport asks the level's model how long the transfer takes, books the
// level (a transfer starts when the previous one it accepted has finished, so
// concurrent initiators contend) and annotates the finish on the delay. A kernel
// runs as two processes that hand over two buffers: a DMA process issuing the
// stage's loads and stores as transactions, and a compute process that waits for
// a loaded buffer, spends the stage's compute time on the compute units and frees
// it (the rule of pipeline.h, produced by simulation instead of formula).
//
// Streams (engine name systemc:streams=N): a dispatcher issues the kernels in
// program order, each as soon as every kernel it depends on (Kernel::deps) has
// finished and fewer than N kernels are in flight, onto a free kernel runner.
// The compute units are shared by processor sharing: a computing kernel occupies
// ComputeModel::compute_share of them; while the shares of the kernels computing
// at one moment sum to at most 1 each computes at full speed, above 1 each
// progresses at 1 / (sum of shares). Memory levels keep booking transfers in the
// order they are issued, so concurrent kernels queue on each level. With N = 1
// the kernels run one after another and the timing is the analytic engine's.
//
// SystemC allows one elaboration per process, so the modules are built once
// (the Platform below, on first use): one target per possible memory level, the
// compute units and k_max_streams kernel runners. Each run binds the current
// hardware's models to them and simulates as a new phase from the current
// simulation time.
#include <systemc>
#include <tlm>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <memory>
#include <stdexcept>

#include "sim/engines/engine.h"
#include "sim/engines/host_process.h"
#include "sim/engines/systemc_system.h"
#include "models/timed_unit.h"
#include "core/error.h"

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

// The compute units as a processor-sharing server. A job is one stage's compute
// time at full speed (`work`, seconds) with the share of the units its kernel
// occupies. The running jobs progress at rate 1 while their shares sum to <= 1,
// otherwise at 1 / sum; whenever a job arrives or finishes the remaining work of
// every job is brought up to date and the next finish is scheduled. A lone job
// (or jobs whose shares fit) finishes exactly `work` after it arrived.
struct ComputeUnits : sc_core::sc_module {
  struct Job {
    double share = 1;
    double remaining = 0;   // seconds of work at full speed
    sc_core::sc_event done;
  };

  SC_HAS_PROCESS(ComputeUnits);
  explicit ComputeUnits(sc_core::sc_module_name n) : sc_module(n) {
    SC_METHOD(on_finish);
    sensitive << m_next;
    dont_initialize();
  }

  void reset() {
    m_jobs.clear();
    m_next.cancel();
    m_last = sc_core::sc_time_stamp();
    m_rate = 1;
    m_busy_s = 0;
  }

  // Spends `work` seconds of full-speed compute, sharing the units; called from
  // a thread process.
  void compute(double share, double work) {
    if (work <= 0) {
      sc_core::wait(sc_core::SC_ZERO_TIME);
      return;
    }
    Job job;
    job.share = share;
    job.remaining = work;
    advance();
    m_jobs.push_back(&job);
    schedule();
    sc_core::wait(job.done);
  }

  // Time during which at least one job was computing, up to the last event.
  double busy_s() const { return m_busy_s; }

 private:
  // Brings every job's remaining work up to the current time.
  void advance() {
    const sc_core::sc_time now = sc_core::sc_time_stamp();
    const double elapsed = (now - m_last).to_seconds();
    if (!m_jobs.empty()) m_busy_s += elapsed;
    for (Job* j : m_jobs) j->remaining -= elapsed * m_rate;
    m_last = now;
  }

  // Sets the rate for the current jobs and the time of the next finish.
  void schedule() {
    m_next.cancel();
    if (m_jobs.empty()) return;
    double shares = 0, least = m_jobs.front()->remaining;
    for (const Job* j : m_jobs) {
      shares += j->share;
      least = std::min(least, j->remaining);
    }
    m_rate = shares > 1 ? 1.0 / shares : 1.0;
    m_next.notify(sc_core::sc_time(std::max(0.0, least) / m_rate, sc_core::SC_SEC));
  }

  void on_finish() {
    if (m_jobs.empty()) return;
    advance();
    // The job the event was scheduled for has the least remaining work; jobs
    // within one time-resolution step of it finish with it.
    double least = m_jobs.front()->remaining;
    for (const Job* j : m_jobs) least = std::min(least, j->remaining);
    const double tol = sc_core::sc_get_time_resolution().to_seconds() * m_rate;
    std::vector<Job*> running;
    for (Job* j : m_jobs) {
      if (j->remaining <= least + tol) j->done.notify(sc_core::SC_ZERO_TIME);
      else running.push_back(j);
    }
    m_jobs = std::move(running);
    schedule();
  }

  std::vector<Job*> m_jobs;
  sc_core::sc_event m_next;
  sc_core::sc_time m_last = sc_core::SC_ZERO_TIME;
  double m_rate = 1;
  double m_busy_s = 0;
};

// One kernel in flight: waits to be handed a kernel, runs it, reports back.
struct KernelRunner : sc_core::sc_module {
  std::function<void(size_t)> body;   // set for the current run
  sc_core::sc_event go;
  size_t kernel = 0;
  bool busy = false;

  SC_HAS_PROCESS(KernelRunner);
  explicit KernelRunner(sc_core::sc_module_name n) : sc_module(n) { SC_THREAD(main); }

  void start(size_t k) {
    kernel = k;
    busy = true;
    go.notify(sc_core::SC_ZERO_TIME);
  }

 private:
  void main() {
    while (true) {
      sc_core::wait(go);
      body(kernel);
    }
  }
};

struct Platform {
  std::unique_ptr<Dma> dma;
  std::vector<std::unique_ptr<MemoryTarget>> targets;
  std::unique_ptr<ComputeUnits> units;
  std::vector<std::unique_ptr<KernelRunner>> runners;

  Platform() {
    dma = std::make_unique<Dma>("dma");
    for (int i = 0; i < kMaxLevels; ++i) {
      targets.push_back(std::make_unique<MemoryTarget>(fmt::format("mem{}", i).c_str()));
      dma->socket[i].bind(targets.back()->socket);
    }
    units = std::make_unique<ComputeUnits>("compute");
    for (int i = 0; i < k_max_streams; ++i)
      runners.push_back(std::make_unique<KernelRunner>(fmt::format("stream{}", i).c_str()));
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
  // Most stages one run simulates.
  static constexpr int64_t kMaxStages = int64_t{1} << 20;

  explicit SystemCEngine(int streams) : m_streams(streams) {}

  RunResult run(const Program& p, const Hardware& hw) override {
    using namespace sc_core;
    Platform& plat = platform();
    if (static_cast<int>(hw.memories().size()) > kMaxLevels)
      throw InputError(fmt::format("{}: the systemc engine supports at most {} memory levels",
                                   hw.source, kMaxLevels));
    const size_t n = p.kernels.size();
    for (size_t ki = 0; ki < n; ++ki)
      for (int d : p.kernels[ki].deps)
        if (d < 0 || static_cast<size_t>(d) >= ki)
          throw InputError(fmt::format("kernel {} '{}' depends on kernel {}; a kernel can only depend on "
                                       "earlier kernels (0..{})", ki, p.kernels[ki].name, d,
                                       static_cast<int>(ki) - 1));
    // The engine simulates every stage of every block (its cost grows with the
    // repeat counts, i.e. with the sizes): a program of more stages than
    // kMaxStages is refused before any time is spent; the analytic engine takes
    // any size in closed form.
    int64_t stages = 0;
    for (const Kernel& k : p.kernels)
      for (const Block& b : k.blocks) stages = std::min<int64_t>(stages + std::max<int64_t>(b.repeat, 0), kMaxStages + 1);
    if (stages > kMaxStages)
      throw InputError(fmt::format("{}: the program has more than {} pipeline stages (block repeats summed over its "
                                   "kernels), the most the systemc engine simulates one by one; use --engine "
                                   "analytic (closed form) or a smaller workload", p.workload, kMaxStages));
    // A program that sends over a system's links runs on every rank at once.
    if (is_system_program(p, hw)) return run_system_systemc(p, hw, m_streams);
    std::map<std::string, int> level_index;
    for (size_t i = 0; i < hw.memories().size(); ++i) {
      plat.targets[i]->model = hw.memories()[i].second.get();
      plat.targets[i]->busy_until = sc_time_stamp();
      level_index[hw.memories()[i].first] = static_cast<int>(i);
    }
    std::map<std::string, sc_time> link_free;   // per link/switch: when it is next free
    std::vector<KernelPlan> plans;
    std::vector<double> shares;
    for (const Kernel& k : p.kernels) {
      plans.push_back(plan_kernel(k, hw));
      shares.push_back(std::clamp(hw.compute().compute_share(k), 0.0, 1.0));
    }
    std::vector<KernelTiming> times(n);
    std::vector<char> finished(n, 0);
    int in_flight = 0;
    sc_event ev_finished;
    const sc_time t0 = sc_time_stamp();
    // The host: launches the kernels in program order, spending each op's host
    // time after its launch, blocking while host_queue_depth launches are
    // outstanding, waiting for a synchronising op's kernel (host_process.h,
    // models/compute/host.h).
    std::vector<double> host_s;
    for (const KernelPlan& kp : plans) host_s.push_back(kp.host_s);
    HostProcess host(std::move(host_s), host_syncs(p), hw.compute().host_queue_depth(), t0);
    auto seconds = [&](const sc_time& t) { return (t - t0).to_seconds(); };
    plat.units->reset();

    // One kernel: launch overhead, then its stages through the DMA and compute
    // processes (double-buffered).
    auto run_kernel = [&](size_t ki) {
      const Kernel& k = p.kernels[ki];
      const KernelPlan& plan = plans[ki];
      times[ki].start_s = seconds(sc_time_stamp());
      times[ki].blocks.assign(k.blocks.size(), BlockTiming{});
      wait(sc_time(plan.overhead_s, SC_SEC));
      // No stage before the host has issued the kernel and its launch has
      // reached the idle device (host_process.h).
      times[ki].host_wait_s = host.await_launch(ki, plan.launch_s);
      // Flatten the blocks into stages: (block index, iteration count).
      int64_t total = 0;
      std::vector<int64_t> first_stage;   // of each block, for the timeline
      for (const auto& b : k.blocks) {
        first_stage.push_back(total);
        total += b.repeat;
      }
      const auto is_first = [&](int64_t i, size_t b) { return i == first_stage[b]; };
      const auto is_last = [&](int64_t i, size_t b) { return i == first_stage[b] + k.blocks[b].repeat - 1; };
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
          const size_t bi = block_of(i);
          const Block& blk = k.blocks[bi];
          if (is_first(i, bi)) times[ki].blocks[bi].load_start_s = seconds(sc_time_stamp());
          sc_time longest = SC_ZERO_TIME;
          for (const Instr& in : blk.instrs) {
            // Transfers are the instructions whose unit is a memory level, a link
            // or a switch. A link or switch is a contended channel: a transfer
            // starts when the channel is free and holds it for its model time.
            const Component& unit = instr_unit_component(in, k, hw);
            if (const auto* lane = dynamic_cast<const TimedUnit*>(&unit); lane && lane->is_transfer_lane()) {
              sc_time& free_at = link_free[unit.path()];
              const sc_time start = std::max(free_at, sc_time_stamp());
              free_at = start + sc_time(lane->busy_time_s(in), SC_SEC);
              if (free_at - sc_time_stamp() > longest) longest = free_at - sc_time_stamp();
              continue;
            }
            const std::string* level = hw.level_name(&unit);
            if (!level) continue;
            ext.instr = &in;
            trans.set_command(in.op == Opcode::load ? tlm::TLM_READ_COMMAND : tlm::TLM_WRITE_COMMAND);
            trans.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
            sc_time delay = SC_ZERO_TIME;
            plat.dma->socket[level_index.at(*level)]->b_transport(trans, delay);
            if (delay > longest) longest = delay;
          }
          wait(longest);
          if (is_last(i, bi)) times[ki].blocks[bi].load_end_s = seconds(sc_time_stamp());
          ++loaded;
          ev_loaded.notify(SC_ZERO_TIME);
        }
        trans.clear_extension(&ext);
      });
      sc_process_handle comp = sc_spawn([&] {
        for (int64_t i = 0; i < total; ++i) {
          while (loaded < i + 1) wait(ev_loaded);
          const size_t bi = block_of(i);
          if (is_first(i, bi)) times[ki].blocks[bi].compute_start_s = seconds(sc_time_stamp());
          plat.units->compute(shares[ki], plan.stages[bi].compute_s);
          if (is_last(i, bi)) times[ki].blocks[bi].compute_end_s = seconds(sc_time_stamp());
          ++computed;
          ev_computed.notify(SC_ZERO_TIME);
        }
      });
      if (!dma.terminated()) wait(dma.terminated_event());
      if (!comp.terminated()) wait(comp.terminated_event());
      times[ki].end_s = seconds(sc_time_stamp());
    };

    for (size_t ri = 0; ri < plat.runners.size(); ++ri) {
      auto& r = plat.runners[ri];
      r->busy = false;
      r->body = [&, runner = r.get(), ri](size_t ki) {
        times[ki].stream = static_cast<int>(ri);
        run_kernel(ki);
        finished[ki] = 1;
        host.retire(ki);
        runner->busy = false;
        --in_flight;
        ev_finished.notify(SC_ZERO_TIME);
      };
    }

    host.spawn();
    // The dispatcher: program order, dependencies, at most m_streams in flight.
    sc_spawn([&] {
      for (size_t ki = 0; ki < n; ++ki) {
        const auto ready = [&] {
          if (in_flight >= m_streams) return false;
          for (int d : p.kernels[ki].deps)
            if (!finished[static_cast<size_t>(d)]) return false;
          return true;
        };
        while (!ready()) wait(ev_finished);
        KernelRunner* free_runner = nullptr;
        for (auto& r : plat.runners)
          if (!r->busy) {
            free_runner = r.get();
            break;
          }
        ++in_flight;
        free_runner->start(ki);
      }
    });
    sc_start();
    for (auto& t : plat.targets) t->model = nullptr;
    for (auto& r : plat.runners) r->body = nullptr;
    if (std::count(finished.begin(), finished.end(), 1) != static_cast<long>(n))
      throw std::logic_error("systemc engine: the simulation stopped before every kernel finished");
    const std::string name = m_streams == 1 ? "systemc" : fmt::format("systemc:streams={}", m_streams);
    // With several streams compute phases overlap: the busy time is measured
    // (time with at least one kernel computing); one stream sums the kernels'.
    return finish_run(p, hw, name, plans, times, m_streams > 1 ? plat.units->busy_s() : -1.0, host.done_s());
  }

 private:
  int m_streams;
};

}  // namespace

std::unique_ptr<Engine> make_systemc_engine(int streams) {
  if (streams < 1 || streams > k_max_streams)
    throw InputError(fmt::format("systemc engine: streams={} is not accepted; accepted: 1..{}", streams,
                                 k_max_streams));
  return std::make_unique<SystemCEngine>(streams);
}

}  // namespace tessera
