#pragma once
// Registry of component kinds and their implementations. Each implementation
// registers its name, a description, its parameter declarations and a factory;
// hardware descriptions pick one with `impl:`. Implementation names are unique
// across kinds, so `impl: NAME` alone identifies the kind (`impl: KIND/NAME` is
// accepted too). The project's own registry is built once by builtin_registry()
// (models/builtin.h) and is immutable afterwards; tests may build their own.
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/component.h"
#include "core/params.h"

namespace tessera {

struct ImplInfo {
  std::string kind;          // "compute", "memory", "power", or any other kind
                             // (components that are not compute, memory or power
                             // answer the engines through models/timed_unit.h)
  std::string name;          // value of `impl:`
  std::string description;
  std::vector<ParamSpec> params;
  std::function<std::unique_ptr<Component>()> make;
};

class Registry {
 public:
  // Throws std::logic_error when `name` is already registered (under any kind)
  // or contains '/'.
  void add(ImplInfo info);
  const ImplInfo* find(std::string_view kind, std::string_view name) const;
  // The implementation an `impl:` value names: "NAME" or "KIND/NAME"; nullptr if none.
  const ImplInfo* find_impl(std::string_view impl) const;
  std::vector<const ImplInfo*> impls(std::string_view kind) const;
  std::vector<std::string> kinds() const;
  const std::vector<ImplInfo>& all() const { return m_impls; }

 private:
  std::vector<ImplInfo> m_impls;
};

// Helper for implementations: `registry.add(make_impl<MyModel>("compute", "name", "...", specs))`.
template <class T>
ImplInfo make_impl(std::string kind, std::string name, std::string desc, std::vector<ParamSpec> specs) {
  return ImplInfo{std::move(kind), std::move(name), std::move(desc), std::move(specs),
                  [] { return std::unique_ptr<Component>(new T()); }};
}

}  // namespace tessera
