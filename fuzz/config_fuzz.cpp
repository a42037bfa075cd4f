// libFuzzer harness: the TOML-subset config reader (parse_config_text, toml_quote,
// format_double from src/cli/config_file.cpp, which needs no libtorch: it includes only
// bnlandscape/train/config.h, whose ConfigError is header-only).
//
// The whole input is the file text, parsed flat and with [tables]. Only ConfigError may come
// out, its message starting with "<source>:<line>: ". A successful flat parse must survive a
// round trip: writing every entry back as `key = toml_quote(value)` and parsing that again
// gives the same keys and values; numbers must round-trip through format_double.

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "bnlandscape/cli/config_file.h"
#include "bnlandscape/train/config.h"
#include "fuzz_util.h"

namespace {

using bnl::cli::ConfigEntry;

bool parse(const std::string& text, bool tables, std::vector<ConfigEntry>& out) {
  try {
    out = bnl::cli::parse_config_text(text, "fuzz.toml", tables);
  } catch (const bnl::train::ConfigError& e) {
    const std::string msg = e.what();
    FUZZ_CHECK(msg.compare(0, 10, "fuzz.toml:") == 0);
    FUZZ_CHECK(msg.find(": ", 10) != std::string::npos);
    return false;
  }
  int last_line = 0;
  for (const ConfigEntry& e : out) {
    FUZZ_CHECK(!e.key.empty());
    FUZZ_CHECK(e.line > last_line);  // one entry per line, in order
    last_line = e.line;
  }
  return true;
}

void check_number(const std::string& v) {
  double d = 0;
  const auto r = std::from_chars(v.data(), v.data() + v.size(), d);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || std::isnan(d)) return;
  const std::string s = bnl::cli::format_double(d);
  double back = 0;
  const auto rb = std::from_chars(s.data(), s.data() + s.size(), back);
  FUZZ_CHECK(rb.ec == std::errc() && rb.ptr == s.data() + s.size());
  FUZZ_CHECK(std::memcmp(&back, &d, sizeof d) == 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<ConfigEntry> tabled;
  parse(text, /*tables=*/true, tabled);
  std::vector<ConfigEntry> flat;
  if (!parse(text, /*tables=*/false, flat)) return 0;

  // Without tables the two readings agree.
  FUZZ_CHECK(tabled.size() == flat.size());
  for (std::size_t i = 0; i < flat.size(); ++i) {
    FUZZ_CHECK(tabled[i].key == flat[i].key && tabled[i].value == flat[i].value &&
               tabled[i].line == flat[i].line);
  }

  std::string written;
  for (const ConfigEntry& e : flat) {
    written += e.key + " = " + bnl::cli::toml_quote(e.value) + "\n";
    check_number(e.value);
  }
  std::vector<ConfigEntry> again;
  FUZZ_CHECK(parse(written, /*tables=*/false, again));
  FUZZ_CHECK(again.size() == flat.size());
  for (std::size_t i = 0; i < flat.size(); ++i) {
    FUZZ_CHECK(again[i].key == flat[i].key);
    FUZZ_CHECK(again[i].value == flat[i].value);
  }
  return 0;
}
