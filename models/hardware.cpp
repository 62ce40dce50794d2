#include "models/hardware.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "core/error.h"
#include "core/utf8.h"
#include "models/builtin.h"

namespace tessera {

namespace fs = std::filesystem;

const MemoryModel* Hardware::memory(std::string_view level) const {
  for (const auto& [name, m] : m_memories)
    if (name == level) return m.get();
  return nullptr;
}

const std::string* Hardware::level_name(const Component* m) const {
  for (const auto& [name, level] : m_memories)
    if (level.get() == m) return &name;
  return nullptr;
}

std::string Hardware::memory_names() const {
  std::string s;
  for (const auto& [name, m] : m_memories) s += (s.empty() ? "" : ", ") + name;
  return s;
}

std::string Hardware::component_paths() const {
  std::string s;
  for (const Component* c : m_tree) s += (s.empty() ? "" : ", ") + c->path();
  return s;
}

void Hardware::fail_get(std::string_view path, const Component* found) const {
  if (found)
    throw InputError(fmt::format("{}: component '{}' is a {} ({}), not the kind asked for", source,
                                 path, found->kind(), found->impl()));
  throw InputError(fmt::format("{}: no component '{}'; components: {}", source, path,
                               component_paths()));
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

// Keys of a description that are not component trees.
bool is_plain_top_key(const std::string& key) {
  return key == "name" || key == "description" || key == "numerics" || key == "base";
}

// True when `node` is a component (a map with impl) or groups at least one.
bool has_component(const YAML::Node& node) {
  if (node.IsMap()) {
    if (node["impl"]) return true;
    for (const auto& kv : node)
      if (has_component(kv.second)) return true;
  } else if (node.IsSequence()) {
    for (const auto& e : node)
      if (has_component(e)) return true;
  }
  return false;
}

// Declared parameter names of the implementation chosen at `node`, if any.
std::vector<std::string> declared_keys(const Registry& reg, const YAML::Node& node) {
  std::vector<std::string> keys;
  if (!node.IsMap() || !node["impl"]) return keys;
  if (const ImplInfo* info = reg.find_impl(node["impl"].as<std::string>()))
    for (const auto& p : info->params) keys.push_back(p.name);
  keys.push_back("impl");
  return keys;
}

std::vector<std::string> numerics_keys() {
  std::vector<std::string> keys;
  for (const auto& p : numerics_param_specs()) keys.push_back(p.name);
  return keys;
}

// One step of a --set path: a map key, then any number of sequence indices
// ("devices[3]" = key "devices", index 3).
struct PathPart {
  std::string key;
  std::vector<size_t> index;
};

PathPart parse_part(const std::string& text, const std::string& set) {
  PathPart p;
  const size_t br = text.find('[');
  p.key = text.substr(0, br);
  for (size_t pos = br; pos != std::string::npos;) {
    const size_t close = text.find(']', pos);
    const std::string digits = close == std::string::npos ? "" : text.substr(pos + 1, close - pos - 1);
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
        (close + 1 < text.size() && text[close + 1] != '['))
      throw InputError(fmt::format("--set '{}': malformed index in '{}'; expected KEY[N] with N >= 0",
                                   set, text));
    p.index.push_back(std::stoul(digits));
    pos = close + 1 < text.size() ? close + 1 : std::string::npos;
  }
  if (p.key.empty()) throw InputError(fmt::format("--set '{}': empty component in key path", set));
  return p;
}

void apply_set(YAML::Node& root, const std::string& set, const std::string& source,
               const Registry& reg) {
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
  YAML::Node node = root;
  std::string walked;
  const auto missing = [&](const YAML::Node& parent) {
    std::vector<std::string> have;
    if (parent.IsMap())
      for (const auto& kv : parent) have.push_back(kv.first.as<std::string>());
    if (parent.IsSequence())
      for (size_t i = 0; i < parent.size(); ++i) have.push_back(fmt::format("[{}]", i));
    throw InputError(fmt::format("--set '{}': {} has no component '{}'; it has: {}", set, source,
                                 walked, join(have)));
  };
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const PathPart part = parse_part(parts[i], set);
    walked += (walked.empty() ? "" : ".") + part.key;
    if (!node.IsMap() || !node[part.key]) missing(node);
    // (reset, not '=': assigning a YAML::Node overwrites the node it refers to)
    YAML::Node child = node[part.key];
    for (size_t idx : part.index) {
      const YAML::Node parent = child;
      walked += fmt::format("[{}]", idx);
      if (!parent.IsSequence() || idx >= parent.size()) missing(parent);
      child.reset(parent[idx]);
    }
    if (!child.IsMap()) missing(node);
    node.reset(child);
  }
  const std::string& key = parts.back();
  const auto keys = declared_keys(reg, node);
  if (!node[key] && std::find(keys.begin(), keys.end(), key) == keys.end())
    throw InputError(fmt::format("--set '{}': unknown key '{}' for {} ({}); accepted keys: {}", set,
                                 key, walked, node["impl"] ? node["impl"].as<std::string>() : "?",
                                 join(keys)));
  // The value is checked here too, so that the message names the argument.
  if (node["impl"] && node["impl"].IsScalar())
    if (const ImplInfo* info = reg.find_impl(node["impl"].Scalar()))
      for (const auto& spec : info->params)
        if (spec.name == key)
          if (const std::string why = param_value_problem(spec, value); !why.empty())
            throw InputError(fmt::format("--set '{}': invalid value '{}' for {}.{} ({}): {}", set, value,
                                         walked, key, info->name, why));
  node[key] = value;
}

std::vector<std::string> impl_names(const Registry& reg, const std::string& kind) {
  std::vector<std::string> n;
  if (kind.empty()) {
    for (const auto& i : reg.all()) n.push_back(i.name);
  } else {
    for (auto* i : reg.impls(kind)) n.push_back(i->name);
  }
  return n;
}

// Builds the component at `node`. `kind` is the kind the position requires
// ("" = any registered kind, taken from the implementation).
std::unique_ptr<Component> make_component(const Registry& reg, const std::string& kind,
                                          const YAML::Node& node, const std::string& path,
                                          const std::string& source) {
  const std::string where = fmt::format("{}: {}", source, path);
  if (!node || !node.IsMap())
    throw InputError(fmt::format("{}: missing component (a map with 'impl: NAME')", where));
  if (!node["impl"])
    throw InputError(fmt::format("{}: missing key 'impl'; accepted {} implementations: {}", where,
                                 kind.empty() ? "component" : kind, join(impl_names(reg, kind))));
  const std::string impl = node["impl"].as<std::string>();
  const ImplInfo* info = reg.find_impl(impl);
  if (!info || (!kind.empty() && info->kind != kind)) {
    if (kind.empty())
      throw InputError(fmt::format("{}.impl: unknown implementation '{}'; accepted: {}", where, impl,
                                   join(impl_names(reg, kind))));
    throw InputError(fmt::format("{}.impl: unknown {} implementation '{}'; accepted: {}", where,
                                 kind, impl, join(impl_names(reg, kind))));
  }
  Params params = parse_params(info->params, node, where);
  std::unique_ptr<Component> c = info->make();
  const bool typed = info->kind == "compute"  ? dynamic_cast<ComputeModel*>(c.get()) != nullptr
                     : info->kind == "memory" ? dynamic_cast<MemoryModel*>(c.get()) != nullptr
                     : info->kind == "power"  ? dynamic_cast<PowerModel*>(c.get()) != nullptr
                                              : true;
  if (!typed) throw std::logic_error(fmt::format("{} {} has the wrong base class", info->kind, impl));
  c->init(info->kind, path, info->name, std::move(params), node);
  return c;
}

template <class Model>
std::unique_ptr<Model> downcast(std::unique_ptr<Component> c) {
  return std::unique_ptr<Model>(static_cast<Model*>(c.release()));
}

// Builds every component under `node` (a component, or a group of them) at
// `path`, in the description's order, handing each to `take`. `kind` as for
// make_component. A map without impl that holds no component is taken for a
// component that lacks its impl (so the message says so).
template <class Take>
void walk_components(const Registry& reg, const std::string& kind, const YAML::Node& node,
                     const std::string& path, const std::string& source, Take&& take) {
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i)
      walk_components(reg, kind, node[i], fmt::format("{}[{}]", path, i), source, take);
    return;
  }
  if (!node.IsMap() || node["impl"] || !has_component(node)) {
    take(make_component(reg, kind, node, path, source));
    return;
  }
  for (const auto& kv : node)
    walk_components(reg, kind, kv.second, path + "." + kv.first.as<std::string>(), source, take);
}

// `node` written canonically (map keys sorted, scalars quoted) for the digest.
void canonical_text(const YAML::Node& node, std::string& out) {
  if (node.IsMap()) {
    // Sort keys with indices: assigning a YAML::Node (as a sort of nodes would)
    // overwrites the node it refers to.
    std::vector<YAML::Node> values;
    std::vector<std::pair<std::string, size_t>> keys;
    for (const auto& e : node) {
      keys.emplace_back(e.first.Scalar(), values.size());
      values.push_back(e.second);
    }
    std::sort(keys.begin(), keys.end());
    out += '{';
    for (const auto& [k, i] : keys) {
      out += fmt::format("{}:{}:", k.size(), k);
      canonical_text(values[i], out);
      out += ';';
    }
    out += '}';
  } else if (node.IsSequence()) {
    out += '[';
    for (const auto& e : node) {
      canonical_text(e, out);
      out += ';';
    }
    out += ']';
  } else if (node.IsScalar()) {
    out += fmt::format("{}:{}", node.Scalar().size(), node.Scalar());
  } else {
    out += '~';
  }
}

std::string tree_digest(const YAML::Node& tree) {
  std::string text;
  canonical_text(tree, text);
  uint64_t h = 14695981039346656037ull;   // FNV-1a 64 offset basis and prime
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  return fmt::format("{:016x}", h);
}

// Refuses a map that holds the same key twice (yaml-cpp keeps both and reads the
// first): the message names the file, the key and the line of the second.
void check_duplicate_keys(const YAML::Node& node, const std::string& source) {
  if (node.IsMap()) {
    std::vector<std::string> seen;
    for (const auto& kv : node) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
      if (std::find(seen.begin(), seen.end(), key) != seen.end())
        throw InputError(fmt::format("{}:{}: key '{}' given twice in the same map", source,
                                     kv.first.Mark().line + 1, key));
      seen.push_back(key);
      check_duplicate_keys(kv.second, source);
    }
  } else if (node.IsSequence()) {
    for (const auto& e : node) check_duplicate_keys(e, source);
  }
}

}  // namespace

std::unique_ptr<Hardware> build_hardware(YAML::Node tree, const std::string& source,
                                         const std::vector<std::string>& sets) {
  return build_hardware(std::move(tree), source, sets, builtin_registry());
}

namespace {

std::unique_ptr<Hardware> build_hardware_tree(YAML::Node tree, const std::string& source,
                                              const std::vector<std::string>& sets,
                                              const Registry& registry) {
  if (!tree || !tree.IsMap()) throw InputError(fmt::format("{}: expected a YAML map", source));
  for (const auto& kv : tree)
    if (!kv.first.IsScalar())
      throw InputError(fmt::format("{}:{}: a key must be a single word", source, kv.first.Mark().line + 1));
  for (const auto& s : sets) apply_set(tree, s, source, registry);
  for (const auto& kv : tree) {
    const std::string key = kv.first.as<std::string>();
    if (key == "base")
      throw InputError(fmt::format("{}: base: not resolved here; load the file with --hw (or "
                                   "load_hardware_tree)", source));
    if (!is_plain_top_key(key) && key != "compute" && key != "memory" && key != "power" &&
        !has_component(kv.second))
      throw InputError(fmt::format("{}: unknown top-level key '{}'; accepted: name, description, "
                                   "compute, memory, power, numerics, base, or a key holding "
                                   "components (maps with 'impl: NAME')", source, key));
  }
  auto hw = std::make_unique<Hardware>();
  hw->source = source;
  hw->name = tree["name"] ? tree["name"].as<std::string>() : fs::path(source).stem().string();
  hw->description = tree["description"] ? tree["description"].as<std::string>() : "";
  // compute, memory, power first (in this order, so that the first mistake
  // reported is the one it has always been); then the rest in the description's order.
  hw->m_compute = downcast<ComputeModel>(make_component(registry, "compute", tree["compute"],
                                                        "compute", source));
  const YAML::Node mem = tree["memory"];
  if (!mem || !mem.IsMap() || mem.size() == 0)
    throw InputError(fmt::format("{}: missing 'memory' (a map of levels, e.g. dram: {{impl: dram, "
                                 "...}})", source));
  for (const auto& kv : mem)
    walk_components(registry, "memory", kv.second, "memory." + kv.first.as<std::string>(), source,
                    [&](std::unique_ptr<Component> c) {
                      const std::string level = c->path().substr(std::string("memory.").size());
                      hw->m_memories.emplace_back(level, downcast<MemoryModel>(std::move(c)));
                    });
  hw->m_power = downcast<PowerModel>(make_component(registry, "power", tree["power"], "power", source));
  for (const auto& kv : tree) {
    const std::string key = kv.first.as<std::string>();
    if (key == "compute") hw->m_tree.push_back(hw->m_compute.get());
    else if (key == "power") hw->m_tree.push_back(hw->m_power.get());
    else if (key == "memory")
      for (const auto& [level, m] : hw->m_memories) hw->m_tree.push_back(m.get());
    else if (!is_plain_top_key(key))
      walk_components(registry, "", kv.second, key, source, [&](std::unique_ptr<Component> c) {
        hw->m_tree.push_back(c.get());
        hw->m_others.push_back(std::move(c));
      });
  }
  hw->tree = tree;
  hw->digest = tree_digest(tree);
  hw->m_compute->bind(*hw);
  for (auto& [n, m] : hw->m_memories) m->bind(*hw);
  hw->m_power->bind(*hw);
  for (auto& c : hw->m_others) c->bind(*hw);
  return hw;
}

}  // namespace

std::unique_ptr<Hardware> build_hardware(YAML::Node tree, const std::string& source,
                                         const std::vector<std::string>& sets,
                                         const Registry& registry) {
  // A node of the wrong shape (a list where a word belongs: `name: [x]`,
  // `impl: [hbm]`) surfaces as yaml-cpp's conversion error: a user mistake.
  try {
    return build_hardware_tree(std::move(tree), source, sets, registry);
  } catch (const YAML::Exception& e) {
    const std::string line = e.mark.is_null() ? "" : fmt::format(":{}", e.mark.line + 1);
    throw InputError(fmt::format("{}{}: a value has the wrong shape ({}); keys such as name and impl take a "
                                 "single word", source, line, e.msg));
  }
}

namespace {

// `over` merged onto `base`: maps key by key, anything else replaces; a map
// whose impl differs from the base's replaces it whole.
void deep_merge(YAML::Node base, const YAML::Node& over) {
  for (const auto& kv : over) {
    const std::string key = kv.first.as<std::string>();
    YAML::Node b = base[key];
    const YAML::Node& o = kv.second;
    const bool same_impl = !(o.IsMap() && o["impl"] && b.IsMap() && b["impl"] &&
                             o["impl"].as<std::string>() != b["impl"].as<std::string>());
    if (b && b.IsMap() && o.IsMap() && same_impl) deep_merge(b, o);
    else base[key] = YAML::Clone(o);
  }
}

YAML::Node load_tree(const std::string& path, std::vector<std::string>& chain) {
  YAML::Node tree;
  require_utf8_file(path);
  try {
    tree = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw InputError(fmt::format("{}:{}: malformed YAML: {}", path, e.mark.line + 1, e.msg));
  }
  check_duplicate_keys(tree, path);
  if (!tree.IsMap() || !tree["base"]) return tree;
  const YAML::Node b = tree["base"];
  if (!b.IsScalar() || b.Scalar().empty())
    throw InputError(fmt::format("{}: base: expected a preset name ({}) or a path relative to the "
                                 "file", path, join(hw_preset_names())));
  const std::string name = b.Scalar();
  const bool is_path = name.find('/') != std::string::npos || fs::path(name).extension() == ".yaml";
  const fs::path base_path = is_path ? fs::path(path).parent_path() / name
                                     : fs::path(hw_preset_dir()) / (name + ".yaml");
  std::error_code ec;
  if (!fs::is_regular_file(base_path, ec)) {
    if (is_path)
      throw InputError(fmt::format("{}: base: file '{}' {} (a path is taken relative to "
                                   "the file; a bare name is a preset: {})", path,
                                   base_path.string(), not_a_file_reason(base_path.string()),
                                   join(hw_preset_names())));
    throw InputError(fmt::format("{}: base: unknown hardware preset '{}'; accepted: {} (or a path "
                                 "relative to the file)", path, name, join(hw_preset_names())));
  }
  const std::string canon = fs::weakly_canonical(base_path, ec).string();
  if (std::find(chain.begin(), chain.end(), canon) != chain.end()) {
    std::string cycle;
    for (const auto& c : chain) cycle += c + " -> ";
    throw InputError(fmt::format("{}: base: '{}' makes a cycle: {}{}", path, name, cycle, canon));
  }
  chain.push_back(canon);
  YAML::Node merged = YAML::Clone(load_tree(base_path.string(), chain));
  chain.pop_back();
  YAML::Node own = YAML::Clone(tree);
  own.remove("base");
  deep_merge(merged, own);
  return merged;
}

}  // namespace

YAML::Node load_hardware_tree(const std::string& path) {
  std::error_code ec;
  std::vector<std::string> chain{fs::weakly_canonical(path, ec).string()};
  try {
    return load_tree(path, chain);
  } catch (const YAML::Exception& e) {   // a node of the wrong shape while merging (impl: [hbm])
    const std::string line = e.mark.is_null() ? "" : fmt::format(":{}", e.mark.line + 1);
    throw InputError(fmt::format("{}{}: a value has the wrong shape ({}); keys such as name and impl take a "
                                 "single word", path, line, e.msg));
  }
}

std::unique_ptr<Hardware> load_hardware(const std::string& preset_or_path,
                                        const std::vector<std::string>& sets) {
  return load_hardware(preset_or_path, sets, builtin_registry());
}

std::unique_ptr<Hardware> load_hardware(const std::string& preset_or_path,
                                        const std::vector<std::string>& sets,
                                        const Registry& registry) {
  std::string path = preset_or_path;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    const fs::path preset = fs::path(hw_preset_dir()) / (preset_or_path + ".yaml");
    if (preset_or_path.find('/') == std::string::npos && fs::is_regular_file(preset, ec)) {
      path = preset.string();
    } else if (preset_or_path.find('/') != std::string::npos ||
               preset_or_path.find('.') != std::string::npos) {
      throw InputError(fmt::format("--hw: file '{}' {}", preset_or_path, not_a_file_reason(preset_or_path)));
    } else {
      throw InputError(fmt::format("--hw: unknown hardware preset '{}'; accepted: {} (or a path "
                                   "to a YAML or SCALE-Sim .cfg file)",
                                   preset_or_path, join(hw_preset_names())));
    }
  }
  if (fs::path(path).extension() == ".cfg")
    return build_hardware(scalesim_cfg_tree(path), path, sets, registry);
  return build_hardware(load_hardware_tree(path), path, sets, registry);
}

}  // namespace tessera
