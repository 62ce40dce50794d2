#pragma once
// Table of built-in workloads (generic kernels and whole models).
#include "workloads/workloads.h"

namespace tessera {
// Generic single-kernel workloads (gemm, conv2d, attention, layernorm, ...).
void add_kernel_workloads(std::vector<WorkloadInfo>& out);
// Model families (workloads/models/*.cpp).
void add_cnn_workloads(std::vector<WorkloadInfo>& out);          // resnet50, alexnet, vgg16
void add_transformer_workloads(std::vector<WorkloadInfo>& out);  // bert, gpt, llama, moe, ...
void add_evoformer_workloads(std::vector<WorkloadInfo>& out);    // AlphaFold-2 Evoformer
void add_rnn_workloads(std::vector<WorkloadInfo>& out);          // lstm, gru
// Collectives with nccl-tests semantics (workloads/collectives.cpp).
void add_collective_workloads(std::vector<WorkloadInfo>& out);
// Memory micro-workloads: gather, strided_read, read_repeat (workloads/models/memory.cpp).
void add_memory_workloads(std::vector<WorkloadInfo>& out);
}  // namespace tessera
