#include "core/registry.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace tessera {

void Registry::add(ImplInfo info) {
  if (find(info.kind, info.name))
    throw std::logic_error(fmt::format("component {}/{} registered twice", info.kind, info.name));
  if (const ImplInfo* other = find_impl(info.name))
    throw std::logic_error(fmt::format("component {}/{}: the name is taken by {}/{} (implementation "
                                       "names are unique across kinds)", info.kind, info.name,
                                       other->kind, other->name));
  if (info.name.find('/') != std::string::npos || info.kind.find('/') != std::string::npos)
    throw std::logic_error(fmt::format("component {}/{}: names may not contain '/'", info.kind, info.name));
  m_impls.push_back(std::move(info));
}

const ImplInfo* Registry::find(std::string_view kind, std::string_view name) const {
  for (const auto& i : m_impls)
    if (i.kind == kind && i.name == name) return &i;
  return nullptr;
}

const ImplInfo* Registry::find_impl(std::string_view impl) const {
  const size_t slash = impl.find('/');
  if (slash != std::string_view::npos) return find(impl.substr(0, slash), impl.substr(slash + 1));
  for (const auto& i : m_impls)
    if (i.name == impl) return &i;
  return nullptr;
}

std::vector<const ImplInfo*> Registry::impls(std::string_view kind) const {
  std::vector<const ImplInfo*> out;
  for (const auto& i : m_impls)
    if (i.kind == kind) out.push_back(&i);
  return out;
}

std::vector<std::string> Registry::kinds() const {
  std::vector<std::string> out;
  for (const auto& i : m_impls)
    if (std::find(out.begin(), out.end(), i.kind) == out.end()) out.push_back(i.kind);
  return out;
}

}  // namespace tessera
