// Chakra execution traces (.et): the format ASTRA-sim reads and PyTorch's
// execution-trace observer produces once converted (mlcommons/chakra,
// schema/protobuf/et_def.proto). A file is a sequence of length-delimited
// protobuf messages: one GlobalMetadata, then one Node per message. The messages
// are parsed by libprotobuf against the schema's descriptor, built here at run
// time (no generated code: Debian ships no Chakra package); only the fields the
// importer reads are declared, the rest are kept as unknown fields.
//
// Node -> op (workloads/importers.h states the mapping):
//   COMP_NODE:      matmul when its inputs' shapes are two matrices (m x k, k x n;
//                   a leading batch dimension allowed); an elementwise ATen op
//                   (relu, gelu, silu, add, mul, ...) with its output shape; any
//                   other compute node is a `copy` of its tensor_size bytes
//                   (bytes counted, arithmetic not), counted in
//                   info["chakra_unmapped_compute"];
//   COMM_COLL_NODE: comm_type ALL_REDUCE / ALL_GATHER / REDUCE_SCATTER / ALL_TO_ALL
//                   -> allreduce / allgather / reducescatter / alltoall of comm_size
//                   bytes over the ranks (the trace's rank files, name.<rank>.et);
//   METADATA, MEM_LOAD, MEM_STORE: no kernel (dependencies pass through them);
//   anything else (point-to-point SEND/RECV, other collectives): an error naming
//   the node.
// Dependencies are data_deps and ctrl_deps; ops are ordered producers first.
#include <fmt/format.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/io/coded_stream.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <regex>
#include <set>

#include "core/error.h"
#include "workloads/importers.h"
#include "workloads/importers/common.h"

namespace tessera {
namespace {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptorProto;

// et_def.proto's NodeType and CollectiveCommType numbers.
enum NodeType { kMetadata = 1, kMemLoad = 2, kMemStore = 3, kComp = 4, kSend = 5, kRecv = 6, kColl = 7 };
enum CommType { kAllReduce = 0, kAllGather = 2, kAllToAll = 6, kReduceScatter = 7 };

void add_field(pb::DescriptorProto* m, const char* name, int number, FD::Type type, bool repeated = false,
               const char* type_name = nullptr, int oneof = -1) {
  FD* f = m->add_field();
  f->set_name(name);
  f->set_number(number);
  f->set_type(type);
  f->set_label(repeated ? FD::LABEL_REPEATED : FD::LABEL_OPTIONAL);
  if (type_name) f->set_type_name(type_name);
  if (oneof >= 0) f->set_oneof_index(oneof);
}

// The subset of et_def.proto (package ChakraProtoMsg, proto3) the importer reads.
struct Schema {
  pb::DescriptorPool pool;
  mutable pb::DynamicMessageFactory factory{&pool};   // GetPrototype is thread-safe
  const pb::Descriptor* metadata = nullptr;
  const pb::Descriptor* node = nullptr;

  Schema() {
    pb::FileDescriptorProto f;
    f.set_name("tessera_chakra_et_def.proto");
    f.set_package("ChakraProtoMsg");
    f.set_syntax("proto3");
    pb::DescriptorProto* attr = f.add_message_type();
    attr->set_name("AttributeProto");
    attr->add_oneof_decl()->set_name("value");
    add_field(attr, "name", 1, FD::TYPE_STRING);
    add_field(attr, "double_val", 3, FD::TYPE_DOUBLE, false, nullptr, 0);
    add_field(attr, "float_val", 5, FD::TYPE_FLOAT, false, nullptr, 0);
    add_field(attr, "int32_val", 7, FD::TYPE_INT32, false, nullptr, 0);
    add_field(attr, "int64_val", 9, FD::TYPE_INT64, false, nullptr, 0);
    add_field(attr, "uint32_val", 11, FD::TYPE_UINT32, false, nullptr, 0);
    add_field(attr, "uint64_val", 13, FD::TYPE_UINT64, false, nullptr, 0);
    add_field(attr, "sint32_val", 15, FD::TYPE_SINT32, false, nullptr, 0);
    add_field(attr, "sint64_val", 17, FD::TYPE_SINT64, false, nullptr, 0);
    add_field(attr, "fixed32_val", 19, FD::TYPE_FIXED32, false, nullptr, 0);
    add_field(attr, "fixed64_val", 21, FD::TYPE_FIXED64, false, nullptr, 0);
    add_field(attr, "sfixed32_val", 23, FD::TYPE_SFIXED32, false, nullptr, 0);
    add_field(attr, "sfixed64_val", 25, FD::TYPE_SFIXED64, false, nullptr, 0);
    add_field(attr, "bool_val", 27, FD::TYPE_BOOL, false, nullptr, 0);
    add_field(attr, "string_val", 29, FD::TYPE_STRING, false, nullptr, 0);
    pb::DescriptorProto* meta = f.add_message_type();
    meta->set_name("GlobalMetadata");
    add_field(meta, "version", 1, FD::TYPE_STRING);
    pb::DescriptorProto* io = f.add_message_type();
    io->set_name("IOInfo");
    add_field(io, "values", 1, FD::TYPE_STRING);
    add_field(io, "shapes", 2, FD::TYPE_STRING);
    add_field(io, "types", 3, FD::TYPE_STRING);
    pb::DescriptorProto* n = f.add_message_type();
    n->set_name("Node");
    add_field(n, "id", 1, FD::TYPE_UINT64);
    add_field(n, "name", 2, FD::TYPE_STRING);
    add_field(n, "type", 3, FD::TYPE_INT32);   // enum NodeType: same varint on the wire
    add_field(n, "ctrl_deps", 4, FD::TYPE_UINT64, true);
    add_field(n, "data_deps", 5, FD::TYPE_UINT64, true);
    add_field(n, "duration_micros", 7, FD::TYPE_UINT64);
    add_field(n, "inputs", 8, FD::TYPE_MESSAGE, false, ".ChakraProtoMsg.IOInfo");
    add_field(n, "outputs", 9, FD::TYPE_MESSAGE, false, ".ChakraProtoMsg.IOInfo");
    add_field(n, "attr", 10, FD::TYPE_MESSAGE, true, ".ChakraProtoMsg.AttributeProto");
    const pb::FileDescriptor* file = pool.BuildFile(f);
    if (!file) throw std::logic_error("chakra: the built-in et_def.proto descriptor does not build");
    metadata = file->FindMessageTypeByName("GlobalMetadata");
    node = file->FindMessageTypeByName("Node");
  }
};

const Schema& schema() {
  static const Schema s;
  return s;
}

struct ChakraNode {
  uint64_t id = 0;
  std::string name;
  int type = 0;
  std::vector<uint64_t> deps;
  std::string in_shapes, in_types, out_shapes;
  std::map<std::string, double> attrs;   // numeric attributes
};

ChakraNode read_node(const pb::Message& m) {
  const pb::Descriptor* d = m.GetDescriptor();
  const pb::Reflection* r = m.GetReflection();
  ChakraNode n;
  n.id = r->GetUInt64(m, d->FindFieldByName("id"));
  n.name = r->GetString(m, d->FindFieldByName("name"));
  n.type = r->GetInt32(m, d->FindFieldByName("type"));
  for (const char* f : {"data_deps", "ctrl_deps"}) {
    const pb::FieldDescriptor* fd = d->FindFieldByName(f);
    for (int i = 0; i < r->FieldSize(m, fd); ++i) n.deps.push_back(r->GetRepeatedUInt64(m, fd, i));
  }
  const auto io = [&](const char* field, std::string& shapes, std::string* types) {
    const pb::FieldDescriptor* fd = d->FindFieldByName(field);
    if (!r->HasField(m, fd)) return;
    const pb::Message& sub = r->GetMessage(m, fd);
    shapes = sub.GetReflection()->GetString(sub, sub.GetDescriptor()->FindFieldByName("shapes"));
    if (types) *types = sub.GetReflection()->GetString(sub, sub.GetDescriptor()->FindFieldByName("types"));
  };
  io("inputs", n.in_shapes, &n.in_types);
  io("outputs", n.out_shapes, nullptr);
  const pb::FieldDescriptor* attr_fd = d->FindFieldByName("attr");
  for (int i = 0; i < r->FieldSize(m, attr_fd); ++i) {
    const pb::Message& a = r->GetRepeatedMessage(m, attr_fd, i);
    const pb::Reflection* ar = a.GetReflection();
    const pb::FieldDescriptor* v = ar->GetOneofFieldDescriptor(a, a.GetDescriptor()->FindOneofByName("value"));
    if (!v) continue;
    double x = 0;
    switch (v->cpp_type()) {
      case pb::FieldDescriptor::CPPTYPE_INT32: x = ar->GetInt32(a, v); break;
      case pb::FieldDescriptor::CPPTYPE_INT64: x = static_cast<double>(ar->GetInt64(a, v)); break;
      case pb::FieldDescriptor::CPPTYPE_UINT32: x = ar->GetUInt32(a, v); break;
      case pb::FieldDescriptor::CPPTYPE_UINT64: x = static_cast<double>(ar->GetUInt64(a, v)); break;
      case pb::FieldDescriptor::CPPTYPE_DOUBLE: x = ar->GetDouble(a, v); break;
      case pb::FieldDescriptor::CPPTYPE_FLOAT: x = ar->GetFloat(a, v); break;
      case pb::FieldDescriptor::CPPTYPE_BOOL: x = ar->GetBool(a, v) ? 1 : 0; break;
      default: continue;   // strings
    }
    n.attrs[ar->GetString(a, a.GetDescriptor()->FindFieldByName("name"))] = x;
  }
  return n;
}

// "[[256, 512], [512, 1024]]" -> {{256, 512}, {512, 1024}} (PyTorch ET's IOInfo
// shapes; non-numeric entries make an empty shape).
std::vector<std::vector<int64_t>> parse_shapes(const std::string& s) {
  std::vector<std::vector<int64_t>> out;
  int depth = 0;
  std::vector<int64_t> cur;
  std::string num;
  for (char c : s) {
    if (c == '[') {
      ++depth;
      if (depth == 2) cur.clear();
    } else if (c == ']' || c == ',') {
      if (!num.empty() && depth == 2) cur.push_back(std::stoll(num));
      num.clear();
      if (c == ']') {
        if (depth == 2) out.push_back(cur);
        --depth;
      }
    } else if (std::isdigit(static_cast<unsigned char>(c)) && num.size() < 18) {
      num += c;
    }
  }
  return out;
}

DType dtype_of(const std::string& types) {
  if (types.find("BFloat16") != std::string::npos) return DType::bf16;
  if (types.find("Half") != std::string::npos) return DType::fp16;
  if (types.find("Double") != std::string::npos) return DType::fp64;
  return DType::fp32;
}

int64_t rank_count(const std::string& path) {
  // name.<rank>.et: the rank files of the trace sit side by side.
  const std::filesystem::path p(path);
  const std::string stem = p.stem().string();   // name.<rank>
  const size_t dot = stem.rfind('.');
  if (dot == std::string::npos) return 0;
  const std::string prefix = stem.substr(0, dot + 1);
  int64_t n = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(p.parent_path().empty() ? "." : p.parent_path(), ec)) {
    const std::string f = e.path().filename().string();
    if (f.size() > prefix.size() + 3 && f.rfind(prefix, 0) == 0 && f.substr(f.size() - 3) == ".et" &&
        std::all_of(f.begin() + static_cast<long>(prefix.size()), f.end() - 3,
                    [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      ++n;
  }
  return n;
}

}  // namespace

Graph parse_chakra(std::string_view bytes, std::string_view source, int64_t ranks) {
  if (bytes.empty()) throw InputError(fmt::format("{}: the file is empty", source));
  const Schema& s = schema();
  pb::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()), static_cast<int>(bytes.size()));
  in.SetTotalBytesLimit(INT32_MAX);
  std::vector<ChakraNode> nodes;
  std::unique_ptr<pb::Message> meta(s.factory.GetPrototype(s.metadata)->New());
  std::unique_ptr<pb::Message> msg(s.factory.GetPrototype(s.node)->New());
  for (int index = 0; !in.ExpectAtEnd(); ++index) {
    const int at = in.CurrentPosition();
    uint32_t len = 0;
    if (!in.ReadVarint32(&len) || static_cast<int64_t>(at) + len > static_cast<int64_t>(bytes.size()))
      throw InputError(fmt::format("{}: malformed Chakra trace at byte {}: message {} runs past the end", source,
                                   at, index));
    const auto limit = in.PushLimit(static_cast<int>(len));
    pb::Message& m = index == 0 ? *meta : *msg;
    m.Clear();
    if (!m.ParseFromCodedStream(&in) || !in.ConsumedEntireMessage())
      throw InputError(fmt::format("{}: malformed Chakra trace at byte {}: message {} is not a {}", source, at,
                                   index, index == 0 ? "GlobalMetadata" : "Node"));
    in.PopLimit(limit);
    if (index > 0) nodes.push_back(read_node(m));
  }
  if (nodes.empty()) throw InputError(fmt::format("{}: a Chakra trace without nodes", source));

  // Nodes by id; launching nodes in producer-first order (Kahn, file order among
  // the ready ones); non-launching nodes pass their dependencies through.
  std::map<uint64_t, size_t> by_id;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (!by_id.emplace(nodes[i].id, i).second)
      throw InputError(fmt::format("{}: node id {} appears twice", source, nodes[i].id));
  }
  for (const auto& n : nodes)
    for (uint64_t d : n.deps)
      if (!by_id.count(d))
        throw InputError(fmt::format("{}: node {} '{}' depends on node {}, which the trace lacks", source, n.id,
                                     n.name, d));
  std::vector<size_t> order;
  {
    std::vector<int> waiting(nodes.size(), 0);
    std::vector<std::vector<size_t>> users(nodes.size());
    for (size_t i = 0; i < nodes.size(); ++i)
      for (uint64_t d : std::set<uint64_t>(nodes[i].deps.begin(), nodes[i].deps.end())) {
        ++waiting[i];
        users[by_id[d]].push_back(i);
      }
    std::set<size_t> ready;
    for (size_t i = 0; i < nodes.size(); ++i)
      if (waiting[i] == 0) ready.insert(i);
    while (!ready.empty()) {
      const size_t i = *ready.begin();
      ready.erase(ready.begin());
      order.push_back(i);
      for (size_t u : users[i])
        if (--waiting[u] == 0) ready.insert(u);
    }
    if (order.size() != nodes.size())
      throw InputError(fmt::format("{}: the dependencies form a cycle ({} of {} nodes can run)", source,
                                   order.size(), nodes.size()));
  }

  Graph g;
  g.name = std::filesystem::path(std::string(source)).stem().string();
  std::map<uint64_t, std::vector<int>> producers;   // node id -> op indices it stands for
  int unmapped = 0, passthrough = 0;
  for (size_t i : order) {
    const ChakraNode& n = nodes[i];
    std::set<int> deps;
    for (uint64_t d : n.deps)
      for (int p : producers[d]) deps.insert(p);
    const std::string where = fmt::format("{}: node {} '{}'", source, n.id, n.name);
    if (n.type == kMetadata || n.type == kMemLoad || n.type == kMemStore) {
      producers[n.id] = std::vector<int>(deps.begin(), deps.end());
      ++passthrough;
      continue;
    }
    Op op;
    op.name = n.name.empty() ? fmt::format("node{}", n.id) : n.name;
    op.dtype = op.out_dtype = dtype_of(n.in_types);
    if (n.type == kComp) {
      const auto in = parse_shapes(n.in_shapes), out = parse_shapes(n.out_shapes);
      std::string lname = importers::lower(n.name);
      static const std::map<std::string, OpKind> elementwise = {
          {"relu", OpKind::relu}, {"gelu", OpKind::gelu}, {"silu", OpKind::silu}, {"sigmoid", OpKind::sigmoid},
          {"tanh", OpKind::tanh}, {"add", OpKind::add}, {"mul", OpKind::mul}, {"softmax", OpKind::softmax},
          {"layer_norm", OpKind::layernorm}};
      const bool mm_name = lname.find("mm") != std::string::npos || lname.find("matmul") != std::string::npos ||
                           lname.find("linear") != std::string::npos;
      // addmm/baddbmm carry the bias first: the last two inputs are the matrices.
      std::vector<std::vector<int64_t>> mats;
      for (const auto& sh : in)
        if (sh.size() == 2 || sh.size() == 3) mats.push_back(sh);
      if (mm_name && mats.size() >= 2) {
        const auto& a = mats[mats.size() - 2];
        const auto& b = mats[mats.size() - 1];
        const int64_t batch = a.size() == 3 ? a[0] : 1;
        const int64_t m = a[a.size() - 2], k = a.back(), n2 = b.back();
        if (b[b.size() - 2] != k)
          throw InputError(fmt::format("{}: matrix shapes {} do not multiply (inner dimensions {} and {})", where,
                                       n.in_shapes, k, b[b.size() - 2]));
        op.kind = OpKind::matmul;
        op.attrs = {{"batch", batch}, {"m", m}, {"n", n2}, {"k", k}, {"b_shared", b.size() == 2 ? 1 : 0}};
      } else {
        std::optional<OpKind> kind;
        for (const auto& [key, k] : elementwise)
          if (lname.find(key) != std::string::npos) kind = k;
        const std::vector<int64_t> shape = !out.empty() ? out[0] : (!in.empty() ? in[0] : std::vector<int64_t>{});
        if (kind && !shape.empty()) {
          int64_t rows = 1;
          for (size_t d = 0; d + 1 < shape.size(); ++d) rows *= shape[d];
          op.kind = *kind;
          op.attrs = {{"rows", rows}, {"cols", shape.back()}};
        } else {
          // A compute node Tessera has no kind for: its bytes, not its arithmetic.
          const double bytes = n.attrs.count("tensor_size") ? n.attrs.at("tensor_size") : 0;
          op.kind = OpKind::copy;
          op.dtype = op.out_dtype = DType::fp32;
          op.attrs = {{"rows", 1}, {"cols", std::max<int64_t>(1, static_cast<int64_t>(bytes / 8))}};
          ++unmapped;
        }
      }
    } else if (n.type == kColl) {
      if (!n.attrs.count("comm_type") || !n.attrs.count("comm_size"))
        throw InputError(fmt::format("{}: a collective needs the attributes comm_type and comm_size", where));
      const int ct = static_cast<int>(n.attrs.at("comm_type"));
      const std::map<int, OpKind> kinds = {{kAllReduce, OpKind::allreduce}, {kAllGather, OpKind::allgather},
                                           {kReduceScatter, OpKind::reducescatter},
                                           {kAllToAll, OpKind::alltoall}};
      if (!kinds.count(ct))
        throw InputError(fmt::format("{}: collective comm_type {} is not supported; accepted: ALL_REDUCE (0), "
                                     "ALL_GATHER (2), ALL_TO_ALL (6), REDUCE_SCATTER (7)",
                                     where, ct));
      if (ranks < 2)
        throw InputError(fmt::format("{}: a collective needs the number of ranks: name the trace's rank files "
                                     "<name>.<rank>.et (found {})",
                                     where, ranks));
      op.kind = kinds.at(ct);
      op.attrs = {{"bytes", static_cast<int64_t>(n.attrs.at("comm_size"))}, {"ranks", ranks}};
    } else {
      throw InputError(fmt::format("{}: node type {} is not supported; accepted: COMP_NODE (4), COMM_COLL_NODE "
                                   "(7), and METADATA/MEM_LOAD/MEM_STORE nodes (1-3), which launch nothing",
                                   where, n.type));
    }
    op.deps.assign(deps.begin(), deps.end());
    producers[n.id] = {g.add(std::move(op))};
  }
  if (g.ops.empty()) throw InputError(fmt::format("{}: the trace launches no kernels", source));
  g.info["chakra_nodes"] = static_cast<double>(nodes.size());
  g.info["chakra_unmapped_compute"] = unmapped;
  g.info["chakra_passthrough"] = passthrough;
  g.info["chakra_ranks"] = static_cast<double>(ranks);
  validate_graph(g, source);
  return g;
}

Graph import_chakra(const std::string& path) {
  const std::string bytes = importers::read_input_file(path);
  return parse_chakra(bytes, path, rank_count(path));
}

}  // namespace tessera
