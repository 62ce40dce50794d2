#include "models/hardware.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/error.h"
#include "models/builtin.h"

namespace tessera {

namespace fs = std::filesystem;

const MemoryModel* Hardware::memory(std::string_view level) const {
  for (const auto& [name, m] : m_memories)
    if (name == level) return m.get();
  return nullptr;
}

std::vector<const Component*> Hardware::components() const {
  std::vector<const Component*> out{m_compute.get()};
  for (const auto& [name, m] : m_memories) out.push_back(m.get());
  out.push_back(m_power.get());
  return out;
}

std::string Hardware::memory_names() const {
  std::string s;
  for (const auto& [name, m] : m_memories) s += (s.empty() ? "" : ", ") + name;
  return s;
}

const std::vector<ParamSpec>& numerics_param_specs() {
  static const std::vector<ParamSpec> specs = {
      p_choice("family", {"h100", "a100", "v100", "ideal"}, "ideal",
               "accumulation-model family of the matrix unit (models/numerics presets "
               "<family>_<format>, e.g. h100_bf16)")};
  return specs;
}

std::string hw_preset_dir() {
  if (const char* env = std::getenv("TESSERA_CONFIG_DIR")) return fs::path(env) / "hw";
  return fs::path(TESSERA_SOURCE_DIR) / "configs" / "hw";
}

std::vector<std::string> hw_preset_names() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(hw_preset_dir(), ec))
    if (e.path().extension() == ".yaml") out.push_back(e.path().stem().string());
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// Declared parameter names of the implementation chosen at `node`, if any.
std::vector<std::string> declared_keys(const std::string& kind, const YAML::Node& node) {
  std::vector<std::string> keys;
  if (!node.IsMap() || !node["impl"]) return keys;
  if (const ImplInfo* info = builtin_registry().find(kind, node["impl"].as<std::string>()))
    for (const auto& p : info->params) keys.push_back(p.name);
  keys.push_back("impl");
  return keys;
}

std::string kind_of_path(const std::vector<std::string>& parts) {
  if (parts.empty()) return "";
  if (parts[0] == "memory") return "memory";
  return parts[0];
}

std::vector<std::string> numerics_keys() {
  std::vector<std::string> keys;
  for (const auto& p : numerics_param_specs()) keys.push_back(p.name);
  return keys;
}

void apply_set(YAML::Node& root, const std::string& set, const std::string& source) {
  const auto eq = set.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == set.size())
    throw InputError(fmt::format("--set '{}': expected path.to.key=value", set));
  const std::string path = set.substr(0, eq), value = set.substr(eq + 1);
  std::vector<std::string> parts;
  for (size_t pos = 0;;) {
    const size_t dot = path.find('.', pos);
    parts.push_back(path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos));
    if (dot == std::string::npos) break;
    pos = dot + 1;
  }
  for (const auto& p : parts)
    if (p.empty()) throw InputError(fmt::format("--set '{}': empty component in key path", set));
  if (parts.size() == 1) {
    if (parts[0] == "name" || parts[0] == "description") {
      root[parts[0]] = value;
      return;
    }
    throw InputError(fmt::format("--set '{}': unknown key '{}' in {}; keys are paths such as "
                                 "compute.<param>, memory.<level>.<param>, power.<param>",
                                 set, path, source));
  }
  if (parts.size() == 2 && parts[0] == "numerics") {
    const auto keys = numerics_keys();
    if (std::find(keys.begin(), keys.end(), parts[1]) == keys.end())
      throw InputError(fmt::format("--set '{}': unknown key '{}' for numerics; accepted keys: {}", set,
                                   parts[1], join(keys)));
    root["numerics"][parts[1]] = value;
    return;
  }
  // Walk down to the component node (all but the last part must exist).
  std::vector<YAML::Node> chain{root};
  std::string walked;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    YAML::Node child = chain.back()[parts[i]];
    walked += (walked.empty() ? "" : ".") + parts[i];
    if (!child || !child.IsMap()) {
      std::vector<std::string> have;
      if (chain.back().IsMap())
        for (const auto& kv : chain.back()) have.push_back(kv.first.as<std::string>());
      throw InputError(fmt::format("--set '{}': {} has no component '{}'; it has: {}", set, source,
                                   walked, join(have)));
    }
    chain.push_back(child);
  }
  YAML::Node comp = chain.back();
  const std::string& key = parts.back();
  const auto keys = declared_keys(kind_of_path(parts), comp);
  if (!comp[key] && std::find(keys.begin(), keys.end(), key) == keys.end())
    throw InputError(fmt::format("--set '{}': unknown key '{}' for {} ({}); accepted keys: {}", set,
                                 key, walked, comp["impl"] ? comp["impl"].as<std::string>() : "?",
                                 join(keys)));
  comp[key] = value;
}

template <class Model>
std::unique_ptr<Model> make_component(const std::string& kind, const YAML::Node& node,
                                      const std::string& path, const std::string& source) {
  const std::string where = fmt::format("{}: {}", source, path);
  if (!node || !node.IsMap())
    throw InputError(fmt::format("{}: missing component (a map with 'impl: NAME')", where));
  if (!node["impl"])
    throw InputError(fmt::format("{}: missing key 'impl'; accepted {} implementations: {}", where,
                                 kind, [&] {
                                   std::vector<std::string> n;
                                   for (auto* i : builtin_registry().impls(kind)) n.push_back(i->name);
                                   return join(n);
                                 }()));
  const std::string impl = node["impl"].as<std::string>();
  const ImplInfo* info = builtin_registry().find(kind, impl);
  if (!info) {
    std::vector<std::string> n;
    for (auto* i : builtin_registry().impls(kind)) n.push_back(i->name);
    throw InputError(fmt::format("{}.impl: unknown {} implementation '{}'; accepted: {}", where,
                                 kind, impl, join(n)));
  }
  Params params = parse_params(info->params, node, where);
  std::unique_ptr<Component> c = info->make();
  auto* typed = dynamic_cast<Model*>(c.get());
  if (!typed) throw std::logic_error(fmt::format("{} {} has the wrong base class", kind, impl));
  c.release();
  std::unique_ptr<Model> out(typed);
  out->init(kind, path, impl, std::move(params));
  return out;
}

}  // namespace

std::unique_ptr<Hardware> build_hardware(YAML::Node tree, const std::string& source,
                                         const std::vector<std::string>& sets) {
  if (!tree || !tree.IsMap()) throw InputError(fmt::format("{}: expected a YAML map", source));
  for (const auto& s : sets) apply_set(tree, s, source);
  static const std::set<std::string> top_keys = {"name", "description", "compute", "memory", "power",
                                                 "numerics"};
  for (const auto& kv : tree) {
    const std::string key = kv.first.as<std::string>();
    if (!top_keys.count(key))
      throw InputError(fmt::format("{}: unknown top-level key '{}'; accepted: name, description, "
                                   "compute, memory, power", source, key));
  }
  auto hw = std::make_unique<Hardware>();
  hw->source = source;
  hw->name = tree["name"] ? tree["name"].as<std::string>() : fs::path(source).stem().string();
  hw->description = tree["description"] ? tree["description"].as<std::string>() : "";
  hw->m_compute = make_component<ComputeModel>("compute", tree["compute"], "compute", source);
  const YAML::Node mem = tree["memory"];
  if (!mem || !mem.IsMap() || mem.size() == 0)
    throw InputError(fmt::format("{}: missing 'memory' (a map of levels, e.g. dram: {{impl: dram, "
                                 "...}})", source));
  for (const auto& kv : mem) {
    const std::string level = kv.first.as<std::string>();
    hw->m_memories.emplace_back(
        level, make_component<MemoryModel>("memory", kv.second, "memory." + level, source));
  }
  hw->m_power = make_component<PowerModel>("power", tree["power"], "power", source);
  hw->tree = tree;
  hw->m_compute->bind(*hw);
  for (auto& [n, m] : hw->m_memories) m->bind(*hw);
  hw->m_power->bind(*hw);
  return hw;
}

std::unique_ptr<Hardware> load_hardware(const std::string& preset_or_path,
                                        const std::vector<std::string>& sets) {
  std::string path = preset_or_path;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    const fs::path preset = fs::path(hw_preset_dir()) / (preset_or_path + ".yaml");
    if (preset_or_path.find('/') == std::string::npos && fs::is_regular_file(preset, ec)) {
      path = preset.string();
    } else if (preset_or_path.find('/') != std::string::npos ||
               preset_or_path.find('.') != std::string::npos) {
      throw InputError(fmt::format("--hw: file '{}' does not exist", preset_or_path));
    } else {
      throw InputError(fmt::format("--hw: unknown hardware preset '{}'; accepted: {} (or a path "
                                   "to a YAML or SCALE-Sim .cfg file)",
                                   preset_or_path, join(hw_preset_names())));
    }
  }
  if (fs::path(path).extension() == ".cfg") return build_hardware(scalesim_cfg_tree(path), path, sets);
  YAML::Node tree;
  try {
    tree = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("{}:{}: malformed YAML: {}", path, e.mark.line + 1, e.msg));
  }
  return build_hardware(tree, path, sets);
}

}  // namespace tessera
