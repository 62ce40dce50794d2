#pragma once
// Minimal reader of the protocol-buffers wire format (varint, 64-bit,
// length-delimited and 32-bit fields), enough to walk an ONNX ModelProto
// without generated code. Every read is bounds-checked; malformed input throws
// InputError naming the source, the message being read and the byte offset.
#include <fmt/format.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "core/error.h"

namespace tessera::importers {

enum class WireType : int { varint = 0, fixed64 = 1, bytes = 2, fixed32 = 5 };

class WireReader {
 public:
  // `data` is one message; `base` is its offset in the file (for messages).
  WireReader(std::string_view data, std::string_view source, std::string_view what, size_t base)
      : m_data(data), m_source(source), m_what(what), m_base(base) {}

  bool done() const { return m_pos >= m_data.size(); }

  // Reads the next field key; returns false at the end of the message.
  bool next(uint32_t& field, WireType& type) {
    if (done()) return false;
    const uint64_t key = varint();
    field = static_cast<uint32_t>(key >> 3);
    const int t = static_cast<int>(key & 7);
    if (field == 0 || (t != 0 && t != 1 && t != 2 && t != 5))
      fail(fmt::format("invalid field key {} (wire type {})", key, t));
    type = static_cast<WireType>(t);
    return true;
  }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (m_pos >= m_data.size()) fail("truncated varint");
      const auto b = static_cast<uint8_t>(m_data[m_pos++]);
      if (shift == 63 && b > 1) fail("varint overflows 64 bits");
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("varint longer than 10 bytes");
  }

  // Length-delimited payload; `offset` receives its file offset.
  std::string_view bytes(size_t* offset = nullptr) {
    const uint64_t len = varint();
    if (len > m_data.size() - m_pos)
      fail(fmt::format("length {} runs past the end of the enclosing message", len));
    if (offset) *offset = m_base + m_pos;
    std::string_view out = m_data.substr(m_pos, static_cast<size_t>(len));
    m_pos += static_cast<size_t>(len);
    return out;
  }

  uint32_t fixed32() {
    if (m_data.size() - m_pos < 4) fail("truncated 32-bit field");
    uint32_t v;
    std::memcpy(&v, m_data.data() + m_pos, 4);
    m_pos += 4;
    return v;
  }

  uint64_t fixed64() {
    if (m_data.size() - m_pos < 8) fail("truncated 64-bit field");
    uint64_t v;
    std::memcpy(&v, m_data.data() + m_pos, 8);
    m_pos += 8;
    return v;
  }

  void skip(WireType t) {
    switch (t) {
      case WireType::varint: varint(); break;
      case WireType::fixed64: fixed64(); break;
      case WireType::bytes: bytes(); break;
      case WireType::fixed32: fixed32(); break;
    }
  }

  // Value of an int64 field (plain varint, two's complement).
  int64_t int64(WireType t) {
    if (t != WireType::varint) fail("integer field with a non-varint wire type");
    return static_cast<int64_t>(varint());
  }

  // Repeated int64 field, packed (one bytes payload) or not (one varint).
  template <typename Out>
  void repeated_int64(WireType t, Out& out) {
    if (t == WireType::varint) {
      out.push_back(static_cast<int64_t>(varint()));
    } else if (t == WireType::bytes) {
      size_t off = 0;
      const std::string_view payload = bytes(&off);
      WireReader packed(payload, m_source, m_what, off);
      while (!packed.done()) out.push_back(static_cast<int64_t>(packed.varint()));
    } else {
      fail("repeated integer field with an unexpected wire type");
    }
  }

  size_t offset() const { return m_base + m_pos; }

  [[noreturn]] void fail(const std::string& why) const {
    throw InputError(fmt::format("{}: malformed ONNX protobuf ({}) at byte {}: {}", m_source,
                                 m_what, m_base + m_pos, why));
  }

 private:
  std::string_view m_data, m_source, m_what;
  size_t m_base = 0;
  size_t m_pos = 0;
};

}  // namespace tessera::importers
