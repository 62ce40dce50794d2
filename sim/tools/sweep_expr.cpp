#include "sim/tools/sweep_expr.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>

#include "core/error.h"
#include "core/units.h"

namespace tessera {

struct Expr::Node {
  enum Kind { num, str, path, neg, notop, bin } kind = num;
  double number = 0;
  std::string text;        // str: the string; path: the path; bin: the operator
  std::shared_ptr<const Node> a, b;
};

namespace {

using NodeP = std::shared_ptr<const Expr::Node>;

// A number with an optional unit suffix, in SI base units: the first unit whose
// spellings accept the text (core/units.h).
std::optional<double> parse_number(const std::string& t) {
  std::string why;
  if (auto v = parse_quantity(t, Unit::none, &why)) return v;
  for (Unit u : {Unit::hertz, Unit::bytes, Unit::bytes_per_second, Unit::seconds, Unit::watts, Unit::joules,
                 Unit::flops_per_second})
    if (auto v = parse_quantity(t, u, &why)) return v;
  return std::nullopt;
}

class Parser {
 public:
  Parser(const std::string& s, const std::string& where, std::vector<std::string>& paths)
      : m_s(s), m_where(where), m_paths(paths) {}

  NodeP parse() {
    NodeP n = parse_or();
    skip();
    if (m_i < m_s.size()) fail(fmt::format("unexpected '{}'", m_s.substr(m_i, 8)));
    return n;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(fmt::format("{}: {} at column {} of \"{}\"; accepted: paths, numbers (with units), "
                                 "\"strings\", + - * / < <= > >= == != && || ! and parentheses",
                                 m_where, what, m_i + 1, m_s));
  }
  void skip() {
    while (m_i < m_s.size() && std::isspace(static_cast<unsigned char>(m_s[m_i]))) ++m_i;
  }
  bool eat(const char* op) {
    skip();
    const size_t n = std::char_traits<char>::length(op);
    if (m_s.compare(m_i, n, op) != 0) return false;
    // '<' must not swallow the '<' of '<='; the caller tries the longer first.
    m_i += n;
    return true;
  }
  static NodeP make_bin(std::string op, NodeP a, NodeP b) {
    auto n = std::make_shared<Expr::Node>();
    n->kind = Expr::Node::bin;
    n->text = std::move(op);
    n->a = std::move(a);
    n->b = std::move(b);
    return n;
  }
  NodeP parse_or() {
    NodeP n = parse_and();
    while (eat("||")) n = make_bin("||", n, parse_and());
    return n;
  }
  NodeP parse_and() {
    NodeP n = parse_cmp();
    while (eat("&&")) n = make_bin("&&", n, parse_cmp());
    return n;
  }
  NodeP parse_cmp() {
    NodeP n = parse_sum();
    for (const char* op : {"<=", ">=", "==", "!=", "<", ">"})
      if (eat(op)) return make_bin(op, n, parse_sum());
    return n;
  }
  NodeP parse_sum() {
    NodeP n = parse_prod();
    for (;;) {
      if (eat("+")) n = make_bin("+", n, parse_prod());
      else if (eat("-")) n = make_bin("-", n, parse_prod());
      else return n;
    }
  }
  NodeP parse_prod() {
    NodeP n = parse_unary();
    for (;;) {
      if (eat("*")) n = make_bin("*", n, parse_unary());
      else if (eat("/")) n = make_bin("/", n, parse_unary());
      else return n;
    }
  }
  NodeP parse_unary() {
    skip();
    if (m_i < m_s.size() && m_s[m_i] == '!' && m_s.compare(m_i, 2, "!=") != 0) {
      ++m_i;
      auto n = std::make_shared<Expr::Node>();
      n->kind = Expr::Node::notop;
      n->a = parse_unary();
      return n;
    }
    if (eat("-")) {
      auto n = std::make_shared<Expr::Node>();
      n->kind = Expr::Node::neg;
      n->a = parse_unary();
      return n;
    }
    return parse_atom();
  }
  NodeP parse_atom() {
    skip();
    if (m_i >= m_s.size()) fail("expression ends early");
    const char c = m_s[m_i];
    auto n = std::make_shared<Expr::Node>();
    if (c == '(') {
      ++m_i;
      NodeP inner = parse_or();
      if (!eat(")")) fail("missing ')'");
      return inner;
    }
    if (c == '"' || c == '\'') {
      const size_t end = m_s.find(c, m_i + 1);
      if (end == std::string::npos) fail("unterminated string");
      n->kind = Expr::Node::str;
      n->text = m_s.substr(m_i + 1, end - m_i - 1);
      m_i = end + 1;
      return n;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      // Digits, '.', an exponent, then an optional unit (letters and '/').
      size_t j = m_i;
      while (j < m_s.size() && (std::isdigit(static_cast<unsigned char>(m_s[j])) || m_s[j] == '.')) ++j;
      if (j < m_s.size() && (m_s[j] == 'e' || m_s[j] == 'E') && j + 1 < m_s.size() &&
          (std::isdigit(static_cast<unsigned char>(m_s[j + 1])) ||
           ((m_s[j + 1] == '-' || m_s[j + 1] == '+') && j + 2 < m_s.size() &&
            std::isdigit(static_cast<unsigned char>(m_s[j + 2]))))) {
        j += 2;
        while (j < m_s.size() && std::isdigit(static_cast<unsigned char>(m_s[j]))) ++j;
      }
      while (j < m_s.size() && (std::isalpha(static_cast<unsigned char>(m_s[j])) ||
                                (m_s[j] == '/' && j + 1 < m_s.size() && m_s[j + 1] == 's')))
        ++j;
      const std::string tok = m_s.substr(m_i, j - m_i);
      const auto v = parse_number(tok);
      if (!v) fail(fmt::format("'{}' is not a number or a quantity", tok));
      n->kind = Expr::Node::num;
      n->number = *v;
      m_i = j;
      return n;
    }
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      size_t j = m_i;
      while (j < m_s.size() && (std::isalnum(static_cast<unsigned char>(m_s[j])) || m_s[j] == '_' ||
                                m_s[j] == '.' || m_s[j] == '[' || m_s[j] == ']'))
        ++j;
      n->kind = Expr::Node::path;
      n->text = m_s.substr(m_i, j - m_i);
      m_i = j;
      bool seen = false;
      for (const auto& p : m_paths) seen = seen || p == n->text;
      if (!seen) m_paths.push_back(n->text);
      return n;
    }
    fail(fmt::format("unexpected '{}'", std::string(1, c)));
  }

  const std::string& m_s;
  const std::string& m_where;
  std::vector<std::string>& m_paths;
  size_t m_i = 0;
};

using Lookup = std::function<std::optional<ExprValue>(const std::string&)>;

ExprValue eval_node(const Expr::Node& n, const Lookup& lookup, const std::string& where) {
  auto num_of = [&](const ExprValue& v, const char* op) {
    if (const double* d = std::get_if<double>(&v)) return *d;
    throw InputError(fmt::format("{}: '{}' applied to the text \"{}\"; text compares only with == and !=",
                                 where, op, std::get<std::string>(v)));
  };
  switch (n.kind) {
    case Expr::Node::num: return n.number;
    case Expr::Node::str: return n.text;
    case Expr::Node::path: {
      auto v = lookup(n.text);
      if (!v) throw InputError(fmt::format("{}: unknown path '{}'", where, n.text));
      return *v;
    }
    case Expr::Node::neg: return -num_of(eval_node(*n.a, lookup, where), "-");
    case Expr::Node::notop: return num_of(eval_node(*n.a, lookup, where), "!") == 0 ? 1.0 : 0.0;
    case Expr::Node::bin: break;
  }
  const std::string& op = n.text;
  if (op == "&&") {
    if (num_of(eval_node(*n.a, lookup, where), "&&") == 0) return 0.0;
    return num_of(eval_node(*n.b, lookup, where), "&&") != 0 ? 1.0 : 0.0;
  }
  if (op == "||") {
    if (num_of(eval_node(*n.a, lookup, where), "||") != 0) return 1.0;
    return num_of(eval_node(*n.b, lookup, where), "||") != 0 ? 1.0 : 0.0;
  }
  const ExprValue a = eval_node(*n.a, lookup, where), b = eval_node(*n.b, lookup, where);
  if (op == "==" || op == "!=") {
    bool eq;
    if (a.index() != b.index()) {
      // A choice may be numeric text ("8"); compare as text then.
      const std::string as = std::holds_alternative<double>(a) ? fmt::format("{}", std::get<double>(a))
                                                               : std::get<std::string>(a);
      const std::string bs = std::holds_alternative<double>(b) ? fmt::format("{}", std::get<double>(b))
                                                               : std::get<std::string>(b);
      eq = as == bs;
    } else {
      eq = a == b;
    }
    return (op == "==") == eq ? 1.0 : 0.0;
  }
  const double x = num_of(a, op.c_str()), y = num_of(b, op.c_str());
  if (op == "+") return x + y;
  if (op == "-") return x - y;
  if (op == "*") return x * y;
  if (op == "/") return y == 0 ? std::nan("") : x / y;
  if (op == "<") return x < y ? 1.0 : 0.0;
  if (op == "<=") return x <= y ? 1.0 : 0.0;
  if (op == ">") return x > y ? 1.0 : 0.0;
  if (op == ">=") return x >= y ? 1.0 : 0.0;
  throw std::logic_error("sweep_expr: unknown operator " + op);
}

}  // namespace

Expr Expr::parse(const std::string& text, const std::string& where) {
  Expr e;
  e.m_text = text;
  e.m_where = where;
  if (text.find_first_not_of(" \t") == std::string::npos)
    throw InputError(fmt::format("{}: empty expression", where));
  e.m_root = Parser(text, where, e.m_paths).parse();
  return e;
}

ExprValue Expr::eval(const Lookup& lookup) const { return eval_node(*m_root, lookup, m_where); }

bool Expr::test(const Lookup& lookup) const {
  const ExprValue v = eval(lookup);
  if (const double* d = std::get_if<double>(&v)) return *d != 0 && !std::isnan(*d);
  throw InputError(fmt::format("{}: \"{}\" is text, not a condition", m_where, m_text));
}

}  // namespace tessera
