#include "isa/asm.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <vector>

#include "core/error.h"

namespace tessera {
namespace {

constexpr Opcode kOpcodes[] = {Opcode::load, Opcode::store, Opcode::mma,  Opcode::vec, Opcode::barrier,
                               Opcode::wait, Opcode::send,  Opcode::recv, Opcode::coll};

bool is_word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == ':' || c == '/' || c == '+' || c == '-';
}

bool is_word(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_word_char(c)) return false;
  return true;
}

// A string as a bare word when possible, otherwise quoted with escapes.
std::string quote(std::string_view s) {
  if (is_word(s)) return std::string(s);
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
        else out += ch;
    }
  }
  return out + "\"";
}

std::string num(double v) { return fmt::format("{:.17g}", v); }

std::string instr_text(const Instr& in) {
  const Instr def;
  std::string s(opcode_name(in.op));
  // Fields the short form carries.
  bool src = false, dst = false, bytes = false, mnk = false, name = false, elems = false,
       ranks = false, a = false, acc = false;
  switch (in.op) {
    case Opcode::load:
    case Opcode::store:
      if (is_word(in.src) && is_word(in.dst)) {
        s += fmt::format(" {}->{}", in.src, in.dst);
        src = dst = true;
      }
      s += fmt::format(" bytes={}", in.bytes);
      bytes = true;
      break;
    case Opcode::mma:
      s += fmt::format(" {}x{}x{} a={} acc={}", in.m, in.n, in.k, dtype_name(in.a), dtype_name(in.acc));
      mnk = a = acc = true;
      break;
    case Opcode::vec:
      if (is_word(in.name)) {
        s += " " + in.name;
        name = true;
      }
      s += fmt::format(" elems={}", in.elems);
      elems = true;
      break;
    case Opcode::send:
    case Opcode::recv:
      if (is_word(in.dst)) {
        s += " " + in.dst;
        dst = true;
      }
      s += fmt::format(" bytes={}", in.bytes);
      bytes = true;
      break;
    case Opcode::coll:
      if (is_word(in.name)) {
        s += " " + in.name;
        name = true;
      }
      s += fmt::format(" bytes={} ranks={}", in.bytes, in.ranks);
      bytes = ranks = true;
      break;
    case Opcode::barrier:
    case Opcode::wait:
      break;
  }
  // Every other field that differs from its default, in a fixed order.
  if (!src && in.src != def.src) s += " src=" + quote(in.src);
  if (!dst && in.dst != def.dst) s += " dst=" + quote(in.dst);
  if (!bytes && in.bytes != def.bytes) s += fmt::format(" bytes={}", in.bytes);
  if (!mnk) {
    if (in.m != def.m) s += fmt::format(" m={}", in.m);
    if (in.n != def.n) s += fmt::format(" n={}", in.n);
    if (in.k != def.k) s += fmt::format(" k={}", in.k);
  }
  if (in.count != def.count) s += fmt::format(" count={}", in.count);
  if (!a && in.a != def.a) s += fmt::format(" a={}", dtype_name(in.a));
  if (!acc && in.acc != def.acc) s += fmt::format(" acc={}", dtype_name(in.acc));
  if (!name && in.name != def.name) s += " name=" + quote(in.name);
  if (!elems && in.elems != def.elems) s += fmt::format(" elems={}", in.elems);
  if (!ranks && in.ranks != def.ranks) s += fmt::format(" ranks={}", in.ranks);
  if (!in.unit.empty() && in.unit != default_unit(in)) s += " unit=" + quote(in.unit);
  return s;
}

// ---------------------------------------------------------------------------
// Parsing

struct Token {
  std::string key;    // empty for a positional token
  std::string value;  // unescaped
  bool quoted = false;
};

class LineParser {
 public:
  LineParser(std::string_view source, int line) : m_source(source), m_line(line) {}

  [[noreturn]] void fail(const std::string& why) const {
    throw InputError(fmt::format("{}:{}: {}", m_source, m_line, why));
  }

  // Splits a line into tokens; strips comments outside quotes.
  std::vector<Token> tokenize(std::string_view s) const {
    std::vector<Token> out;
    size_t i = 0;
    while (true) {
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) ++i;
      if (i >= s.size() || s[i] == ';' || s[i] == '#') break;
      Token t;
      std::string first;
      bool first_quoted = false;
      i = read_atom(s, i, first, first_quoted);
      if (i < s.size() && s[i] == '=') {
        if (first_quoted || first.empty()) fail("a key must be a word before '='");
        ++i;
        if (i >= s.size() || s[i] == ' ' || s[i] == '\t' || s[i] == ';' || s[i] == '#')
          fail(fmt::format("missing value after '{}='", first));
        t.key = first;
        i = read_atom(s, i, t.value, t.quoted);
      } else {
        t.value = first;
        t.quoted = first_quoted;
      }
      if (i < s.size() && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != ';' && s[i] != '#')
        fail(fmt::format("unexpected character '{}' after '{}'", s[i], t.value));
      out.push_back(std::move(t));
    }
    return out;
  }

  int64_t integer(const Token& t, std::string_view what, bool allow_negative = false) const {
    int64_t v = 0;
    const std::string& s = t.value;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (t.quoted || s.empty() || ec != std::errc() || ptr != s.data() + s.size())
      fail(fmt::format("{} = '{}' is not an integer", what, s));
    if (!allow_negative && v < 0) fail(fmt::format("{} = {} must be >= 0", what, v));
    return v;
  }

  double number(const Token& t, std::string_view what) const {
    double v = 0;
    const std::string& s = t.value;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (t.quoted || s.empty() || ec != std::errc() || ptr != s.data() + s.size())
      fail(fmt::format("{} = '{}' is not a number", what, s));
    return v;
  }

  DType dtype(const Token& t, std::string_view what) const {
    auto d = parse_dtype(t.value);
    if (!d) fail(fmt::format("{} = '{}' is not a format; accepted: {}", what, t.value, dtype_names()));
    return *d;
  }

 private:
  // Reads a word or a quoted string starting at i; returns the index after it.
  size_t read_atom(std::string_view s, size_t i, std::string& out, bool& quoted) const {
    if (i < s.size() && s[i] == '"') {
      quoted = true;
      ++i;
      while (true) {
        if (i >= s.size()) fail("unterminated string (missing closing '\"')");
        const char c = s[i++];
        if (c == '"') return i;
        if (c != '\\') {
          out += c;
          continue;
        }
        if (i >= s.size()) fail("unterminated escape at the end of the line");
        const char e = s[i++];
        switch (e) {
          case '\\': out += '\\'; break;
          case '"': out += '"'; break;
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case 'x': {
            unsigned v = 0;
            if (i + 2 > s.size()) fail("\\x needs two hex digits");
            auto [ptr, ec] = std::from_chars(s.data() + i, s.data() + i + 2, v, 16);
            if (ec != std::errc() || ptr != s.data() + i + 2) fail("\\x needs two hex digits");
            out += static_cast<char>(v);
            i += 2;
            break;
          }
          default: fail(fmt::format("unknown escape '\\{}'; accepted: \\\\ \\\" \\n \\t \\r \\xHH", e));
        }
      }
    }
    quoted = false;
    // A word; '-' followed by '>' ends it so that "dram->sram" splits (handled by the caller).
    const size_t start = i;
    while (i < s.size() && (is_word_char(s[i]) || s[i] == '>')) ++i;
    if (i == start) fail(fmt::format("unexpected character '{}'", s[i]));
    out = std::string(s.substr(start, i - start));
    return i;
  }

  std::string_view m_source;
  int m_line;
};

std::string opcode_names() {
  std::string s;
  for (Opcode o : kOpcodes) s += (s.empty() ? "" : ", ") + std::string(opcode_name(o));
  return s;
}

Instr parse_instr(const LineParser& lp, const std::vector<Token>& toks) {
  Instr in;
  const std::string& opname = toks[0].value;
  bool found = false;
  for (Opcode o : kOpcodes)
    if (opcode_name(o) == opname) {
      in.op = o;
      found = true;
    }
  if (!found || toks[0].quoted)
    lp.fail(fmt::format("unknown instruction '{}'; accepted: {} (or a directive: .program, "
                        ".kernel, .attr, .deps, .block)", opname, opcode_names()));
  size_t i = 1;
  if (i < toks.size() && toks[i].key.empty()) {
    const Token& pos = toks[i++];
    switch (in.op) {
      case Opcode::load:
      case Opcode::store: {
        const auto arrow = pos.value.find("->");
        if (pos.quoted || arrow == std::string::npos || arrow == 0 || arrow + 2 >= pos.value.size())
          lp.fail(fmt::format("{} expects SRC->DST, got '{}'", opname, pos.value));
        in.src = pos.value.substr(0, arrow);
        in.dst = pos.value.substr(arrow + 2);
        if (!is_word(in.src) || !is_word(in.dst))
          lp.fail(fmt::format("{} expects SRC->DST, got '{}'", opname, pos.value));
        break;
      }
      case Opcode::mma: {
        int64_t dims[3];
        size_t start = 0;
        for (int d = 0; d < 3; ++d) {
          const size_t x = d < 2 ? pos.value.find('x', start) : pos.value.size();
          if (x == std::string::npos)
            lp.fail(fmt::format("mma expects a tile MxNxK, got '{}'", pos.value));
          Token part{"", pos.value.substr(start, x - start), false};
          dims[d] = lp.integer(part, "mma tile dimension");
          start = x + 1;
        }
        in.m = dims[0];
        in.n = dims[1];
        in.k = dims[2];
        break;
      }
      case Opcode::vec:
      case Opcode::coll:
        in.name = pos.value;
        break;
      case Opcode::send:
      case Opcode::recv:
        in.dst = pos.value;
        break;
      case Opcode::barrier:
      case Opcode::wait:
        lp.fail(fmt::format("{} takes no operand, got '{}'", opname, pos.value));
    }
  }
  for (; i < toks.size(); ++i) {
    const Token& t = toks[i];
    if (t.key.empty()) lp.fail(fmt::format("unexpected operand '{}'; expected key=value", t.value));
    const std::string& k = t.key;
    if (k == "src") in.src = t.value;
    else if (k == "dst") in.dst = t.value;
    else if (k == "bytes") in.bytes = lp.integer(t, k);
    else if (k == "m") in.m = lp.integer(t, k);
    else if (k == "n") in.n = lp.integer(t, k);
    else if (k == "k") in.k = lp.integer(t, k);
    else if (k == "count") in.count = lp.integer(t, k);
    else if (k == "a") in.a = lp.dtype(t, k);
    else if (k == "acc") in.acc = lp.dtype(t, k);
    else if (k == "name") in.name = t.value;
    else if (k == "elems") in.elems = lp.integer(t, k);
    else if (k == "ranks") in.ranks = lp.integer(t, k);
    else if (k == "unit") in.unit = t.value;
    else
      lp.fail(fmt::format("unknown field '{}' for {}; accepted: src, dst, bytes, m, n, k, count, "
                          "a, acc, name, elems, ranks, unit", k, opname));
  }
  // A unit equal to the opcode's default is the default (the text form omits it).
  if (in.unit == default_unit(in)) in.unit.clear();
  return in;
}

}  // namespace

std::string disassemble(const Program& p) {
  std::string out = "; Tessera program (isa/asm.h)\n";
  out += fmt::format(".program target={} hardware={} workload={}", quote(p.target), quote(p.hardware),
                     quote(p.workload));
  if (!p.hw_digest.empty()) out += " hw_digest=" + quote(p.hw_digest);
  if (p.devices != 1) out += fmt::format(" devices={}", p.devices);
  out += "\n";
  if (p.resident.size() == 5)
    out += fmt::format(".resident weights={} gradients={} optimizer={} activations={} kv_cache={}\n",
                       num(p.resident[0]), num(p.resident[1]), num(p.resident[2]), num(p.resident[3]),
                       num(p.resident[4]));
  for (const Kernel& k : p.kernels) {
    out += fmt::format("\n.kernel name={} op_kind={} op_index={} flops={} bytes={} mapping={}\n",
                       quote(k.name), quote(k.op_kind), k.op_index, num(k.flops), num(k.bytes),
                       quote(k.mapping));
    for (const KernelInfoField& f : kernel_info_fields()) {
      if (f.real && k.info.*f.real) out += fmt::format(".attr {} {}\n", f.name, num(*(k.info.*f.real)));
      if (f.integer && k.info.*f.integer)
        out += fmt::format(".attr {} {}\n", f.name, num(static_cast<double>(*(k.info.*f.integer))));
    }
    // Always written, even when empty: a kernel without .deps reads as depending on
    // its predecessor (files written before the directive existed).
    out += ".deps";
    for (int d : k.deps) out += fmt::format(" {}", d);
    out += "\n";
    for (const Block& b : k.blocks) {
      out += fmt::format(".block repeat={}\n", b.repeat);
      for (const Instr& in : b.instrs) out += "  " + instr_text(in) + "\n";
    }
  }
  return out;
}

Program assemble(std::string_view text, std::string_view source_name) {
  Program p;
  bool have_program = false;
  Kernel* kernel = nullptr;
  Block* block = nullptr;
  bool kernel_deps = false;   // the current kernel had its .deps line
  int line_no = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    const std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    const LineParser lp(source_name, line_no);
    const std::vector<Token> toks = lp.tokenize(line);
    if (toks.empty()) continue;
    const std::string& head = toks[0].value;
    if (!toks[0].key.empty()) lp.fail(fmt::format("a line starts with a directive or instruction, got '{}='", toks[0].key));
    auto fields = [&](const std::vector<std::string>& accepted) {
      std::map<std::string, Token> f;
      for (size_t i = 1; i < toks.size(); ++i) {
        const Token& t = toks[i];
        bool known = false;
        for (const auto& a : accepted) known = known || (!t.key.empty() && a == t.key);
        if (!known) {
          std::string acc;
          for (const auto& a : accepted) acc += (acc.empty() ? "" : ", ") + a;
          lp.fail(fmt::format("{}: unexpected '{}'; accepted keys: {}", head,
                              t.key.empty() ? t.value : t.key, acc));
        }
        if (f.count(t.key)) lp.fail(fmt::format("{}: '{}' given twice", head, t.key));
        f[t.key] = t;
      }
      return f;
    };
    if (toks[0].quoted) lp.fail(fmt::format("unexpected string \"{}\" at the start of a line", head));
    if (head == ".program") {
      if (have_program) lp.fail(".program given twice");
      if (!p.kernels.empty()) lp.fail(".program must come before the first .kernel");
      have_program = true;
      auto f = fields({"target", "hardware", "workload", "hw_digest", "devices"});
      if (f.count("hw_digest")) p.hw_digest = f["hw_digest"].value;
      if (f.count("devices")) {
        p.devices = lp.integer(f["devices"], "devices");
        if (p.devices < 1) lp.fail(fmt::format("devices = {} must be >= 1", p.devices));
      }
      if (f.count("target")) p.target = f["target"].value;
      if (f.count("hardware")) p.hardware = f["hardware"].value;
      if (f.count("workload")) p.workload = f["workload"].value;
    } else if (head == ".kernel") {
      auto f = fields({"name", "op_kind", "op_index", "flops", "bytes", "mapping"});
      Kernel k;
      if (f.count("name")) k.name = f["name"].value;
      if (f.count("op_kind")) k.op_kind = f["op_kind"].value;
      if (f.count("op_index")) {
        const int64_t idx = lp.integer(f["op_index"], "op_index", true);
        if (idx < INT32_MIN || idx > INT32_MAX) lp.fail(fmt::format("op_index = {} is out of range", idx));
        k.op_index = static_cast<int>(idx);
      }
      if (f.count("flops")) k.flops = lp.number(f["flops"], "flops");
      if (f.count("bytes")) k.bytes = lp.number(f["bytes"], "bytes");
      if (f.count("mapping")) k.mapping = f["mapping"].value;
      // Until a .deps line says otherwise: the previous kernel (a file from before
      // .deps existed runs as one sequential stream).
      if (!p.kernels.empty()) k.deps = {static_cast<int>(p.kernels.size()) - 1};
      p.kernels.push_back(std::move(k));
      kernel = &p.kernels.back();
      block = nullptr;
      kernel_deps = false;
    } else if (head == ".attr") {
      if (!kernel) lp.fail(".attr outside a kernel (it must follow a .kernel line)");
      if (toks.size() != 3 || !toks[1].key.empty() || !toks[2].key.empty())
        lp.fail(".attr expects a key and a number: .attr KEY VALUE");
      if (block) lp.fail(".attr must come before the kernel's first .block");
      const KernelInfoField* field = find_kernel_info_field(toks[1].value);
      if (!field) {
        std::string names;
        for (const KernelInfoField& f : kernel_info_fields()) names += (names.empty() ? "" : ", ") + std::string(f.name);
        lp.fail(fmt::format("unknown .attr '{}'; accepted: {}", toks[1].value, names));
      }
      if (field->real ? (kernel->info.*field->real).has_value() : (kernel->info.*field->integer).has_value())
        lp.fail(fmt::format(".attr '{}' given twice in kernel '{}'", toks[1].value, kernel->name));
      const double v = lp.number(toks[2], ".attr " + toks[1].value);
      // A duration: the power model averages the kernel's energy over it.
      if (field->real == &KernelInfo::loop_idle && !(v >= 0))
        lp.fail(fmt::format(".attr loop_idle is the seconds the device idles between runs: >= 0, not '{}'",
                            toks[2].value));
      if (field->real) {
        kernel->info.*field->real = v;
      } else {
        // Integers are written as doubles (exact below 2^53).
        if (!(std::abs(v) < 9007199254740992.0) || v != std::floor(v))
          lp.fail(fmt::format(".attr '{}' must be an integer, not '{}'", toks[1].value, toks[2].value));
        kernel->info.*field->integer = static_cast<int64_t>(v);
      }
    } else if (head == ".deps") {
      if (!kernel) lp.fail(".deps outside a kernel (it must follow a .kernel line)");
      if (block) lp.fail(".deps must come before the kernel's first .block");
      if (kernel_deps) lp.fail(fmt::format(".deps given twice in kernel '{}'", kernel->name));
      kernel_deps = true;
      const int self = static_cast<int>(p.kernels.size()) - 1;
      kernel->deps.clear();
      for (size_t i = 1; i < toks.size(); ++i) {
        if (!toks[i].key.empty())
          lp.fail(fmt::format(".deps expects kernel indices: .deps I I ..., got '{}='", toks[i].key));
        const int64_t d = lp.integer(toks[i], ".deps index");
        if (d >= self)
          lp.fail(fmt::format(".deps: kernel {} ('{}') can only depend on earlier kernels (0..{}), got {}",
                              self, kernel->name, self - 1, d));
        if (std::find(kernel->deps.begin(), kernel->deps.end(), d) != kernel->deps.end())
          lp.fail(fmt::format(".deps: {} given twice", d));
        kernel->deps.push_back(static_cast<int>(d));
      }
    } else if (head == ".resident") {
      if (!have_program || !p.kernels.empty() || !p.resident.empty())
        lp.fail(".resident must follow the .program line, once, before the first .kernel");
      auto f = fields({"weights", "gradients", "optimizer", "activations", "kv_cache"});
      for (const char* key : {"weights", "gradients", "optimizer", "activations", "kv_cache"}) {
        const double v = f.count(key) ? lp.number(f[key], key) : 0.0;
        if (!(v >= 0) || !std::isfinite(v)) lp.fail(fmt::format("{} = {} must be a finite number of bytes >= 0", key, v));
        p.resident.push_back(v);
      }
    } else if (head == ".block") {
      if (!kernel) lp.fail(".block outside a kernel (it must follow a .kernel line)");
      auto f = fields({"repeat"});
      Block b;
      if (f.count("repeat")) b.repeat = lp.integer(f["repeat"], "repeat");
      kernel->blocks.push_back(std::move(b));
      block = &kernel->blocks.back();
    } else if (!head.empty() && head[0] == '.') {
      lp.fail(fmt::format("unknown directive '{}'; accepted: .program, .resident, .kernel, .attr, .deps, .block", head));
    } else {
      if (!block)
        lp.fail(fmt::format("instruction '{}' outside a block (a .kernel and a .block line must "
                            "come first)", head));
      block->instrs.push_back(parse_instr(lp, toks));
    }
  }
  return p;
}

}  // namespace tessera
