#include "core/stats.h"

namespace tessera {

void Stats::add(const std::string& name, double value, std::string_view unit, std::string_view desc) {
  auto it = m_stats.find(name);
  if (it == m_stats.end()) {
    m_stats.emplace(name, Stat{value, std::string(unit), std::string(desc)});
  } else {
    it->second.value += value;
  }
}

void Stats::set(const std::string& name, double value, std::string_view unit, std::string_view desc) {
  m_stats[name] = Stat{value, std::string(unit), std::string(desc)};
}

double Stats::get(std::string_view name, double fallback) const {
  auto it = m_stats.find(name);
  return it == m_stats.end() ? fallback : it->second.value;
}

bool Stats::has(std::string_view name) const { return m_stats.find(name) != m_stats.end(); }

nlohmann::json Stats::to_json() const {
  nlohmann::json root = nlohmann::json::object();
  for (const auto& [name, st] : m_stats) {
    nlohmann::json* node = &root;
    size_t pos = 0;
    while (true) {
      const size_t dot = name.find('.', pos);
      const std::string part = name.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
      if (dot == std::string::npos) {
        (*node)[part] = {{"value", st.value}, {"unit", st.unit}, {"desc", st.description}};
        break;
      }
      node = &(*node)[part];
      pos = dot + 1;
    }
  }
  return root;
}

}  // namespace tessera
