#pragma once
// The instruction set compiled programs run on. A Program is a list of kernels
// launched in order (one per IR op, as a framework launches them); each kernel
// names the earlier kernels whose outputs it reads (Kernel::deps), so that an
// engine with several streams may overlap independent kernels. A kernel is a
// list of blocks; each block's instructions are one pipeline stage repeated
// `repeat` times. Under double buffering (every target here has it) the loads of
// stage i+1 overlap the compute of stage i; see sim/engines/pipeline.h for the
// exact timing rule both engines apply.
//
// Instructions:
//   load  SRC->DST bytes=N          DMA a tile between memory levels (e.g. dram->sram)
//   store SRC->DST bytes=N          DMA results back
//   mma   MxNxK a=FMT acc=FMT count=C   C parallel tile multiply-accumulates
//   vec   OP elems=N count=C        vector/special-function work on N elements
//   barrier                          all engines of the core synchronise
//   wait                             wait for outstanding DMA
//   send/recv PEER bytes=N           point-to-point transfer over a link
//   coll  KIND bytes=N ranks=R       collective over R ranks
//
// Every instruction occupies one unit: a component of the hardware, by path
// (Instr::unit). Left empty it is the opcode's default (instr_unit below): a load
// occupies the memory level it reads (memory.SRC), a store the level it writes
// (memory.DST), everything else the compute component. The engines ask that
// component what the instruction costs; the text form writes `unit=PATH` only
// when it differs from the default.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/dtype.h"

namespace tessera {

enum class Opcode { load, store, mma, vec, barrier, wait, send, recv, coll };

std::string_view opcode_name(Opcode op);

struct Instr {
  Opcode op = Opcode::barrier;
  std::string src, dst;      // load/store: memory levels; send/recv: peer in `dst`
  int64_t bytes = 0;         // load/store/send/recv/coll; mma: on-chip buffer bytes it touches
  int64_t m = 0, n = 0, k = 0;  // mma tile shape
  int64_t count = 1;         // parallel copies (tiles in flight, cores, SMs)
  DType a = DType::fp32;     // mma operand format / vec element format
  DType acc = DType::fp32;   // mma accumulator format
  std::string name;          // vec: operation (exp, add, norm, ...); coll: kind
  int64_t elems = 0;         // vec: elements per copy
  int64_t ranks = 0;         // coll
  std::string unit;          // component path it occupies; empty = the opcode's default

  bool operator==(const Instr&) const = default;
};

// The opcode's default unit: load -> "memory." + src, store -> "memory." + dst,
// anything else -> "compute".
std::string default_unit(const Instr& in);
// The unit `in` occupies: in.unit, or default_unit(in) when that is empty.
std::string instr_unit(const Instr& in);

struct Block {
  int64_t repeat = 1;
  std::vector<Instr> instrs;
  bool operator==(const Block&) const = default;
};

// What a mapper tells the cost models about a kernel beyond its instructions
// (tile choices, issue path, scratchpad action counts): counts and flags are
// integers, quantities doubles. Every field is optional:
// unset = the mapper did not say, and each reader states its own default. The asm
// text form writes one `.attr NAME VALUE` line per set field, in the order of
// kernel_info_fields() (alphabetical), and reads them back through that table.
struct KernelInfo {
  std::optional<int64_t> block_kv;  // KV rows per attention thread block
  std::optional<int64_t> block_q;  // query rows per attention thread block
  std::optional<double> bytes_in_flight;  // DRAM bytes the kernel keeps in flight (HBM latency-bandwidth bound)
  std::optional<int64_t> ctas_per_sm;  // GEMM thread blocks resident per SM (occupancy)
  std::optional<int64_t> cycles_per_fold;  // systolic: cycles of one fold (fill + stream + drain)
  std::optional<double> dram_bytes;  // total DRAM traffic of the kernel in bytes (HBM ramp, charged once per kernel)
  std::optional<double> dram_read_pitch;  // bytes from one scattered DRAM read run to the next (0: random places)
  std::optional<double> dram_read_run;  // contiguous bytes per DRAM read run (gathers, strided views); unset: streaming
  std::optional<double> filter_sram_reads;  // systolic: filter scratchpad reads (words)
  std::optional<double> filter_sram_writes;  // systolic: filter scratchpad writes (words)
  std::optional<int64_t> gemv;  // 1 = matrix-vector product (one operand dimension is 1)
  std::optional<int64_t> graph;  // 1 = a node of a CUDA-graph replay: no host launches it, its op's further
                                 // launches follow at the queued gap
  std::optional<int64_t> host_calls;  // host (aten) calls the op takes: a Python loop of per-tensor calls (>= 1)
  std::optional<int64_t> host_hidden;  // 1 = issued without host time of its own (CUDA-graph replay, or while the GPU was busy)
  std::optional<int64_t> host_sync;  // 1 = the host waits for the kernel to end before going on (.item(), a device-to-host copy)
  std::optional<double> ifmap_sram_reads;  // systolic: ifmap scratchpad reads (words)
  std::optional<double> ifmap_sram_writes;  // systolic: ifmap scratchpad writes (words)
  std::optional<double> l2_working_set;  // bytes the kernel re-reads from the L2 (sliced L2: share in the far partition)
  std::optional<int64_t> launches;  // kernel launches the op takes (>= 1)
  std::optional<int64_t> lib_launch;  // 1 = launched by a library's own loop inside an earlier op's host call
  std::optional<int64_t> load_align;  // GEMM: bytes per thread of each operand load (< 16: no TMA, narrow loads)
  std::optional<double>
      loop_idle;  // seconds the device idles after the kernel before it runs again (a host-timed loop)
  std::optional<double> macs;  // systolic: useful multiply-accumulates
  std::optional<int64_t> mma_folds;  // systolic: folds the kernel's mma instructions run
  std::optional<int64_t> mma_path;  // how the mma instructions are issued (tensorcore MmaPath)
  std::optional<double> mma_useful;  // share of the issued mma work that is useful (padding excluded)
  std::optional<double> ofmap_sram_reads;  // systolic: ofmap scratchpad reads (words)
  std::optional<double> ofmap_sram_writes;  // systolic: ofmap scratchpad writes (words)
  std::optional<int64_t> on_chip;  // systolic vector op: 1 = its tensors stay in the on-chip buffers
  std::optional<int64_t> passes;  // passes a memory-bound kernel makes over its tensors
  std::optional<int64_t> queued;  // 1 = queued behind its predecessor in the same stream
  std::optional<double> row_reductions_per_trip;  // block-wide reductions per memory round trip of a row kernel
  std::optional<int64_t> split_k;  // GEMM split-K factor
  std::optional<int64_t> splits;  // decode attention: KV splits (split-KV FlashDecoding)
  std::optional<double> startup_per_stage;  // GEMM: later waves' start-ups per mma stage (SM time)
  std::optional<int64_t> startup_waves;  // GEMM: start-ups before the stages (each GEMM's first wave)
  std::optional<int64_t> thread_blocks;  // thread blocks the kernel launches
  std::optional<int64_t> tile_k;  // GEMM tile K
  std::optional<int64_t> tile_m;  // GEMM tile M
  std::optional<int64_t> tile_n;  // GEMM tile N
  std::optional<double> vec_exposed;  // share of the vector (softmax) time not hidden under the mma
  std::optional<int64_t> waves;  // GEMM waves: ceil(thread blocks / (SMs x blocks per SM))

  bool operator==(const KernelInfo&) const = default;
};

// One field of KernelInfo for the text form: its name, member (exactly one of
// real and integer is set) and meaning.
struct KernelInfoField {
  std::string_view name;
  std::optional<double> KernelInfo::*real = nullptr;
  std::optional<int64_t> KernelInfo::*integer = nullptr;
  std::string_view description;
};

// Every field of KernelInfo, sorted by name (the order the text form prints them).
std::span<const KernelInfoField> kernel_info_fields();
// The field called `name`, or nullptr.
const KernelInfoField* find_kernel_info_field(std::string_view name);

struct Kernel {
  std::string name;                    // unique within the program
  std::string op_kind;                 // IR op kind it implements
  int op_index = -1;                   // index of the IR op
  // Indices (in Program::kernels) of the kernels this one waits for: its IR op's
  // producers. Each is smaller than the kernel's own index; empty = no producer.
  std::vector<int> deps;
  std::string mapping;                 // human-readable mapping summary
  double flops = 0;                    // of the IR op (reports)
  double bytes = 0;                    // minimum bytes of the IR op (reports)
  KernelInfo info;                     // mapper facts the cost models read
  std::vector<Block> blocks;

  bool operator==(const Kernel&) const = default;
};

struct Program {
  std::string target;                  // compute implementation it was compiled for
  std::string hardware;                // hardware name
  std::string workload;                // workload spec
  // Identity of the hardware description compiled for (hardware_digest() in
  // models/hardware.h: a hash of the resolved description, --set included).
  // Empty in programs written before the text form carried it: such a program
  // is checked by target and hardware name only.
  std::string hw_digest;
  // What the compiled workload keeps resident on one device, bytes: weights,
  // gradients, optimizer state, activations, KV cache (sim/engines/capacity.h),
  // written by `tessera compile` as a `.resident` line so that `run --program`
  // checks the capacity as `run --workload` does. Empty: not stated, not checked.
  std::vector<double> resident;
  // Devices of the compiled workload: above 1 for a multi-device workload (tp x
  // pp x dp), whose program lists every pipeline chunk's kernels, collectives
  // included, without the schedule that runs them on the devices; `run --program`
  // refuses it (`run --workload` simulates the whole iteration).
  int64_t devices = 1;
  std::vector<Kernel> kernels;
  bool operator==(const Program&) const = default;
};

}  // namespace tessera
