#include "models/interconnect/system.h"

#include <fmt/format.h>

#include <charconv>
#include <limits>

#include "core/error.h"
#include "models/hardware.h"
#include "models/interconnect/link.h"
#include "models/interconnect/switch.h"

namespace tessera {

namespace {

// Largest device count a description may stand for (a rack-scale pod of TPU v4 is
// 4096 chips; leave room for the largest clusters people simulate).
constexpr int64_t k_max_devices = int64_t{1} << 24;

std::vector<int64_t> parse_shape(const std::string& text, const std::string& where) {
  std::vector<int64_t> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t x = text.find('x', pos);
    if (x == std::string::npos) x = text.size();
    const std::string part = text.substr(pos, x - pos);
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() || v < 1)
      throw InputError(fmt::format("{}: shape '{}': expected extents such as 4x4 or 4x4x8 "
                                   "(positive integers joined by 'x')", where, text));
    out.push_back(v);
    pos = x + 1;
  }
  return out;
}

}  // namespace

void SystemModel::bind(const Hardware& hw) {
  const std::string where = fmt::format("{}: {}", hw.source, m_path);
  if (m_path != "system")
    throw InputError(fmt::format("{}: a system component must sit at the top-level key 'system'", where));
  const int64_t n = nodes(), d = devices_per_node();
  if (n > k_max_devices / d)
    throw InputError(fmt::format("{}: nodes x devices_per_node = {} x {} is more than {} devices",
                                 where, n, d, k_max_devices));
  const std::string& topo = topology();
  if (m_params.text("shape") == "auto") {
    m_shape = {d};
  } else {
    m_shape = parse_shape(m_params.text("shape"), where);
    int64_t prod = 1;
    for (int64_t v : m_shape) prod *= v;
    if (prod != d)
      throw InputError(fmt::format("{}: shape '{}' holds {} devices but devices_per_node is {}", where,
                                   m_params.text("shape"), prod, d));
  }
  const size_t dims = (topo == "torus2d" || topo == "mesh2d") ? 2 : topo == "torus3d" ? 3 : 1;
  if (m_shape.size() != dims)
    throw InputError(fmt::format("{}: topology {} takes a shape of {} extent(s) (e.g. {}), got '{}'",
                                 where, topo, dims, dims == 2 ? "4x4" : dims == 3 ? "4x4x4" : "8",
                                 m_params.text("shape")));
  // On a GPU a collective's kernel holds one SM per NCCL channel: the channels
  // must leave SMs to the compute that runs beside it (parallel_parts.h,
  // Simulator::crowded).
  if (hw.compute().impl() == "tensorcore") {
    const int64_t sms = hw.compute().params().integer("sm_count");
    if (reduce_units() >= sms)
      throw InputError(
          fmt::format("{}.reduce_units: {} is not below compute.sm_count {}: a collective holds one "
                      "SM per NCCL channel and must leave SMs to the compute; accepted: 1..{}",
                      where, reduce_units(), sms, sms - 1));
  }
  if (topo == "cube-mesh" && d != 8)
    throw InputError(fmt::format("{}: topology cube-mesh (DGX-1 hybrid cube-mesh) has 8 devices per "
                                 "node, devices_per_node is {}", where, d));
  const auto named = [&](const char* key, bool needed, const char* why) -> const Component* {
    const std::string& path = m_params.text(key);
    if (path == "none") {
      if (needed) throw InputError(fmt::format("{}.{}: {} (the path of a link or switch component)", where, key, why));
      return nullptr;
    }
    const Component* c = hw.find(path);
    if (!c)
      throw InputError(fmt::format("{}.{}: no component '{}'; components: {}", where, key, path,
                                   hw.component_paths()));
    return c;
  };
  const auto as_link = [&](const char* key, const Component* c) -> const LinkModel* {
    if (!c) return nullptr;
    if (const auto* l = dynamic_cast<const LinkModel*>(c)) return l;
    throw InputError(fmt::format("{}.{}: '{}' is a {} ({}), not a link", where, key, c->path(), c->kind(), c->impl()));
  };
  const auto as_switch = [&](const char* key, const Component* c) -> const SwitchModel* {
    if (!c) return nullptr;
    if (const auto* s = dynamic_cast<const SwitchModel*>(c)) return s;
    throw InputError(fmt::format("{}.{}: '{}' is a {} ({}), not a switch", where, key, c->path(), c->kind(), c->impl()));
  };
  m_up_link = as_link("scale_up_link", named("scale_up_link", d > 1, "devices_per_node > 1 needs the link between them"));
  m_up_switch = as_switch("scale_up_switch", named("scale_up_switch", d > 1 && topo == "switched",
                                                   "a switched topology needs its switch"));
  m_out_link = as_link("scale_out_link", named("scale_out_link", n > 1, "nodes > 1 needs the scale-out link (NIC)"));
  m_out_switch = as_switch("scale_out_switch", named("scale_out_switch", false, ""));
}

const SystemModel* find_system(const Hardware& hw) { return hw.find<SystemModel>("system"); }

int device_count(const Hardware& hw) {
  const SystemModel* s = find_system(hw);
  return s ? static_cast<int>(s->devices()) : 1;
}

int devices_per_node(const Hardware& hw) {
  const SystemModel* s = find_system(hw);
  return s ? static_cast<int>(s->devices_per_node()) : 1;
}

void register_system(Registry& r) {
  ParamSpec nodes = p_int("nodes", "1", "nodes on the scale-out network (each a copy of the node)");
  nodes.min = 1;
  ParamSpec dpn = p_int("devices_per_node", "1", "devices (GPUs, TPU chips, dies) in one node");
  dpn.min = 1;
  ParamSpec reduce_units = p_int("reduce_units", "16",
                                 "SMs or cores a collective's reductions run on (NCCL: one per channel)");
  reduce_units.min = 1;
  r.add(make_impl<SystemModel>(
      "system", "system",
      "devices and fabric: nodes x devices_per_node copies of the described device, their "
      "scale-up topology and the links and switches that connect them",
      {nodes, dpn,
       p_choice("topology", {"switched", "cube-mesh", "ring", "torus2d", "torus3d", "mesh2d"}, "switched",
                "scale-up topology: switched (all-to-all through switches), cube-mesh (DGX-1), ring, "
                "torus2d, torus3d, mesh2d (a torus without wrap-around links)"),
       p_text("shape", "auto", "torus extents, e.g. 4x4 or 4x4x4 (product = devices_per_node); auto: one dimension"),
       p_text("scale_up_link", "none", "path of the link component between devices of a node"),
       p_text("scale_up_switch", "none", "path of the switch of a switched node"),
       p_text("scale_out_link", "none", "path of the link (NIC) between nodes, one per device (rail-optimised)"),
       p_text("scale_out_switch", "none", "path of the scale-out switch (fat tree leaf)"),
       reduce_units,
       // NCCL src/graph/tuning.cc baseLat (6.6-8.4 us for Ring LL/Simple) is the
       // fixed cost of one collective call; the device's own kernel launch overhead
       // (compute.launch_overhead, 4.3 us on the H100 preset) is charged separately,
       // so the default is the rest: 2.5 us.
       p_qty("launch_latency", Unit::seconds, "2.5us", "fixed latency of one collective call beyond the kernel launch")}));
}

}  // namespace tessera
