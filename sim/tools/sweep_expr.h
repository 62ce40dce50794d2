#pragma once
// Constraint expressions of a sweep (`where:` in a spec, `--where` of
// `tessera sweep report`):
//
//   expr   := or
//   or     := and ('||' and)*
//   and    := cmp ('&&' cmp)*
//   cmp    := sum (('<' | '<=' | '>' | '>=' | '==' | '!=') sum)?
//   sum    := prod (('+' | '-') prod)*
//   prod   := unary (('*' | '/') unary)*
//   unary  := ('-' | '!') unary | atom
//   atom   := NUMBER [UNIT] | "string" | 'string' | PATH | '(' expr ')'
//
// A PATH is a parameter path (compute.rows, memory.dram.bandwidth,
// fabric.links[0].bandwidth) or a metric name; a NUMBER may carry a unit
// suffix (100GB/s, 1.4GHz, 64KiB) and is then in SI base units, as quantity
// parameters are. Comparisons and logic give 1 or 0; strings compare only with
// == and != (choices such as compute.dataflow == "ws"). Evaluation is pure.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace tessera {

using ExprValue = std::variant<double, std::string>;

class Expr {
 public:
  // Parses `text`; throws InputError "<where>: ... at column N" on a syntax error.
  static Expr parse(const std::string& text, const std::string& where);
  // Every path the expression reads, in order of first appearance.
  const std::vector<std::string>& paths() const { return m_paths; }
  // Value of the expression; `lookup` gives a path's value (nullopt: unknown,
  // throws InputError naming the path). Throws InputError on a type mismatch.
  ExprValue eval(const std::function<std::optional<ExprValue>(const std::string&)>& lookup) const;
  // eval() as a truth value (a non-zero number; a string is an error).
  bool test(const std::function<std::optional<ExprValue>(const std::string&)>& lookup) const;
  const std::string& text() const { return m_text; }

  struct Node;

 private:
  std::shared_ptr<const Node> m_root;
  std::vector<std::string> m_paths;
  std::string m_text, m_where;
};

}  // namespace tessera
