#include "isa/isa.h"

namespace tessera {

std::string_view opcode_name(Opcode op) {
  switch (op) {
    case Opcode::load: return "load";
    case Opcode::store: return "store";
    case Opcode::mma: return "mma";
    case Opcode::vec: return "vec";
    case Opcode::barrier: return "barrier";
    case Opcode::wait: return "wait";
    case Opcode::send: return "send";
    case Opcode::recv: return "recv";
    case Opcode::coll: return "coll";
  }
  return "?";
}

std::string default_unit(const Instr& in) {
  if (in.op == Opcode::load) return "memory." + in.src;
  if (in.op == Opcode::store) return "memory." + in.dst;
  return "compute";
}

std::string instr_unit(const Instr& in) { return in.unit.empty() ? default_unit(in) : in.unit; }

namespace {

const KernelInfoField k_info_fields[] = {
    {"block_kv", nullptr, &KernelInfo::block_kv, "KV rows per attention thread block"},
    {"block_q", nullptr, &KernelInfo::block_q, "query rows per attention thread block"},
    {"bytes_in_flight", &KernelInfo::bytes_in_flight, nullptr,
     "DRAM bytes the kernel keeps in flight (HBM latency-bandwidth bound)"},
    {"ctas_per_sm", nullptr, &KernelInfo::ctas_per_sm, "GEMM thread blocks resident per SM (occupancy)"},
    {"cycles_per_fold", nullptr, &KernelInfo::cycles_per_fold,
     "systolic: cycles of one fold (fill + stream + drain)"},
    {"dram_bytes", &KernelInfo::dram_bytes, nullptr,
     "total DRAM traffic of the kernel in bytes (HBM ramp, charged once per kernel)"},
    {"dram_read_pitch", &KernelInfo::dram_read_pitch, nullptr,
     "bytes from one scattered DRAM read run to the next (0: random places)"},
    {"dram_read_run", &KernelInfo::dram_read_run, nullptr,
     "contiguous bytes per DRAM read run (gathers, strided views); unset: streaming"},
    {"filter_sram_reads", &KernelInfo::filter_sram_reads, nullptr,
     "systolic: filter scratchpad reads (words)"},
    {"filter_sram_writes", &KernelInfo::filter_sram_writes, nullptr,
     "systolic: filter scratchpad writes (words)"},
    {"gemv", nullptr, &KernelInfo::gemv, "1 = matrix-vector product (one operand dimension is 1)"},
    {"graph", nullptr, &KernelInfo::graph,
     "1 = a node of a CUDA-graph replay: no host launches it, its op's further launches follow at the queued "
     "gap"},
    {"host_calls", nullptr, &KernelInfo::host_calls,
     "host (aten) calls the op takes: a Python loop of per-tensor calls (>= 1)"},
    {"host_hidden", nullptr, &KernelInfo::host_hidden,
     "1 = issued without host time of its own (CUDA-graph replay, or while the GPU was busy)"},
    {"host_sync", nullptr, &KernelInfo::host_sync,
     "1 = the host waits for the kernel to end before going on (.item(), a device-to-host copy)"},
    {"ifmap_sram_reads", &KernelInfo::ifmap_sram_reads, nullptr, "systolic: ifmap scratchpad reads (words)"},
    {"ifmap_sram_writes", &KernelInfo::ifmap_sram_writes, nullptr,
     "systolic: ifmap scratchpad writes (words)"},
    {"l2_working_set", &KernelInfo::l2_working_set, nullptr,
     "bytes the kernel re-reads from the L2 (sliced L2: share in the far partition)"},
    {"launches", nullptr, &KernelInfo::launches, "kernel launches the op takes (>= 1)"},
    {"lib_launch", nullptr, &KernelInfo::lib_launch,
     "1 = launched by a library's own loop inside an earlier op's host call (cuDNN's RNN steps)"},
    {"load_align", nullptr, &KernelInfo::load_align,
     "GEMM: bytes per thread of each operand load (< 16: no TMA, narrow loads)"},
    {"loop_idle", &KernelInfo::loop_idle, nullptr,
     "seconds the device idles after the kernel before it runs again (a host-timed loop)"},
    {"macs", &KernelInfo::macs, nullptr, "systolic: useful multiply-accumulates"},
    {"mma_folds", nullptr, &KernelInfo::mma_folds, "systolic: folds the kernel's mma instructions run"},
    {"mma_path", nullptr, &KernelInfo::mma_path, "how the mma instructions are issued (tensorcore MmaPath)"},
    {"mma_useful", &KernelInfo::mma_useful, nullptr,
     "share of the issued mma work that is useful (padding excluded)"},
    {"ofmap_sram_reads", &KernelInfo::ofmap_sram_reads, nullptr, "systolic: ofmap scratchpad reads (words)"},
    {"ofmap_sram_writes", &KernelInfo::ofmap_sram_writes, nullptr,
     "systolic: ofmap scratchpad writes (words)"},
    {"on_chip", nullptr, &KernelInfo::on_chip,
     "systolic vector op: 1 = its tensors stay in the on-chip buffers"},
    {"passes", nullptr, &KernelInfo::passes, "passes a memory-bound kernel makes over its tensors"},
    {"queued", nullptr, &KernelInfo::queued, "1 = queued behind its predecessor in the same stream"},
    {"row_reductions_per_trip", &KernelInfo::row_reductions_per_trip, nullptr,
     "block-wide reductions per memory round trip of a row kernel"},
    {"split_k", nullptr, &KernelInfo::split_k, "GEMM split-K factor"},
    {"splits", nullptr, &KernelInfo::splits, "decode attention: KV splits (split-KV FlashDecoding)"},
    {"startup_per_stage", &KernelInfo::startup_per_stage, nullptr,
     "GEMM wave start-ups each mma stage carries as SM time (the later waves')"},
    {"startup_waves", nullptr, &KernelInfo::startup_waves,
     "GEMM wave start-ups exposed before the stages (each GEMM's first wave)"},
    {"thread_blocks", nullptr, &KernelInfo::thread_blocks, "thread blocks the kernel launches"},
    {"tile_k", nullptr, &KernelInfo::tile_k, "GEMM tile K"},
    {"tile_m", nullptr, &KernelInfo::tile_m, "GEMM tile M"},
    {"tile_n", nullptr, &KernelInfo::tile_n, "GEMM tile N"},
    {"vec_exposed", &KernelInfo::vec_exposed, nullptr,
     "share of the vector (softmax) time not hidden under the mma"},
    {"waves", nullptr, &KernelInfo::waves, "GEMM waves: ceil(thread blocks / (SMs x blocks per SM))"},
};

}  // namespace

std::span<const KernelInfoField> kernel_info_fields() { return k_info_fields; }

const KernelInfoField* find_kernel_info_field(std::string_view name) {
  for (const KernelInfoField& f : k_info_fields)
    if (f.name == name) return &f;
  return nullptr;
}

}  // namespace tessera
