#pragma once
// Base of every hardware component model. Models are pure: they answer
// questions ("how long does this instruction take", "what does it cost in
// energy") from their parameters and the arguments; they keep no simulation
// state and know nothing of SystemC. Engines own time and state.
#include <string>

#include "core/params.h"

namespace tessera {

class Hardware;

class Component {
 public:
  virtual ~Component() = default;
  const std::string& kind() const { return m_kind; }   // e.g. "memory" (registry kind)
  const std::string& path() const { return m_path; }   // e.g. "memory.dram"
  const std::string& impl() const { return m_impl; }   // e.g. "hbm"
  const Params& params() const { return m_params; }
  // The description's node the component was built from (its keys as written,
  // e.g. "1.98GHz"); empty for a component built outside a description.
  const YAML::Node& node() const { return m_node; }
  // Called once after every component of the hardware exists, so a component
  // can look at its neighbours (e.g. the compute model reads the power limit).
  virtual void bind(const Hardware& /*hw*/) {}

  void init(std::string kind, std::string path, std::string impl, Params params,
            YAML::Node node = YAML::Node()) {
    m_node = std::move(node);
    m_kind = std::move(kind);
    m_path = std::move(path);
    m_impl = std::move(impl);
    m_params = std::move(params);
  }

 protected:
  std::string m_kind;
  std::string m_path;
  std::string m_impl;
  Params m_params;
  YAML::Node m_node;
};

}  // namespace tessera
