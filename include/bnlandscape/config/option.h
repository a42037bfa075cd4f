#pragma once
/// \file
/// One declaration per option. An OptionSpec holds everything said about an option: its key
/// (underscores; the flag is --key with dashes, the TOML key is the key), one-line doc, unit,
/// allowed words or numeric range with the text of the message a bad value gets, the
/// subcommands that take it and those that adopt it from a checkpoint's stored configuration.
/// Each configuration's visit_*_specs(config, v) calls v(spec, field) once per option; the
/// CLI flags, TOML parsing and --dump-config, --help, the per-option checks below and
/// docs/options.md all come from those calls. Knows nothing of CLI11 or HDF5.

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <type_traits>

namespace bnl::optspec {

/// The subcommands, as bits of OptionSpec::commands and OptionSpec::adopt.
enum Command : unsigned {
  kTrain = 1u << 0,
  kProbe = 1u << 1,
  kSurface = 1u << 2,
  kSweep = 1u << 3,
  kCompare = 1u << 4,
  kInfo = 1u << 5,
  kExport = 1u << 6,
  kLaunch = 1u << 7,
};

/// Every Command bit, in the order docs/options.md lists the subcommands.
constexpr Command kCommands[] = {kTrain, kProbe, kSurface, kSweep, kCompare, kInfo, kExport, kLaunch};

/// The subcommand's name ("train", ...) of one Command bit.
inline const char* command_name(Command c) {
  switch (c) {
    case kTrain: return "train";
    case kProbe: return "probe";
    case kSurface: return "surface";
    case kSweep: return "sweep";
    case kCompare: return "compare";
    case kInfo: return "info";
    case kExport: return "export";
    case kLaunch: return "launch";
  }
  return "";
}

constexpr double kInf = std::numeric_limits<double>::infinity();

/// "hidden_dims" -> "hidden-dims".
inline std::string dashed(const std::string& key) {
  std::string out = key;
  for (char& c : out)
    if (c == '_') c = '-';
  return out;
}

/// The declaration of one option. Built with opt(key, doc) and the chained setters below.
struct OptionSpec {
  const char* key = "";         ///< underscores; the flag is --key with dashes
  const char* doc = "";         ///< one line: --help, the --dump-config comment, docs/options.md
  unsigned commands = 0;        ///< Command bits of the subcommands that take it
  unsigned adopt = 0;           ///< Command bits that take it from a checkpoint's stored configuration
  const char* unit = "";        ///< unit of a number ("" = none)
  const char* words = "";       ///< allowed words, "a | b | c" ("" = any text)
  bool ranged = false;          ///< a number checked against [lo, hi] (ends open where *_open)
  double lo = -kInf, hi = kInf;
  bool lo_open = false, hi_open = false;
  bool nonempty = false;        ///< text that must not be empty
  const char* expected = "";    ///< what a failed check says is expected ("--k = v: expected ...")
  const char* shown = "%g";     ///< printf format of a bad floating-point value in that message
  bool cli_checked = false;     ///< checked by CLI11 while parsing (its own messages), not by validate
  bool positional = false;      ///< an argument without a flag
  bool required = false;        ///< must be given
  bool existing_file = false;   ///< names a file that must exist (checked by CLI11)
  const char* short_flag = "";  ///< one-letter alias, e.g. "-j"

  /// The subcommands taking it (Command bits).
  OptionSpec in(unsigned c) const { auto s = *this; s.commands = c; return s; }
  /// The subcommands adopting it from a checkpoint's configuration (Command bits).
  OptionSpec adopted_by(unsigned c) const { auto s = *this; s.adopt = c; return s; }
  OptionSpec with_unit(const char* u) const { auto s = *this; s.unit = u; return s; }
  /// Allowed words "a | b"; a bad value is reported as --key = "v": expected a | b.
  OptionSpec one_of(const char* w) const { auto s = *this; s.words = w; s.expected = w; return s; }
  /// lo <= value (lo < value when `open`).
  OptionSpec at_least(double v, bool open = false) const {
    auto s = *this; s.ranged = true; s.lo = v; s.lo_open = open; return s;
  }
  OptionSpec above(double v) const { return at_least(v, true); }
  /// value <= hi (value < hi when `open`).
  OptionSpec at_most(double v, bool open = false) const {
    auto s = *this; s.ranged = true; s.hi = v; s.hi_open = open; return s;
  }
  OptionSpec below(double v) const { return at_most(v, true); }
  /// A finite value (also rejects NaN, as every range does).
  OptionSpec finite() const { return at_most(hi, hi == kInf || hi_open); }
  OptionSpec not_empty() const { auto s = *this; s.nonempty = true; return s; }
  /// The message text after "expected " when the check fails.
  OptionSpec expect(const char* e) const { auto s = *this; s.expected = e; return s; }
  /// printf format of a bad floating-point value in the message ("%g" unless set).
  OptionSpec show(const char* f) const { auto s = *this; s.shown = f; return s; }
  /// Checked by CLI11 at parse time (IsMember, Range, PositiveNumber, NonNegativeNumber).
  OptionSpec by_cli() const { auto s = *this; s.cli_checked = true; return s; }
  OptionSpec as_positional() const { auto s = *this; s.positional = true; return s; }
  OptionSpec as_required() const { auto s = *this; s.required = true; return s; }
  OptionSpec existing() const { auto s = *this; s.existing_file = true; return s; }
  OptionSpec alias(const char* f) const { auto s = *this; s.short_flag = f; return s; }

  /// Whether `v` lies in the declared range (NaN never does).
  bool in_range(double v) const {
    return (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
  }
  /// The position of `w` among the declared words (the enumerator of a word-set enum declared
  /// in the same order); -1 when it is none of them.
  int word_index(const std::string& w) const {
    const std::string all = words;
    int index = 0;
    for (std::size_t b = 0; b < all.size(); ++index) {
      std::size_t e = all.find(" | ", b);
      if (e == std::string::npos) e = all.size();
      if (e - b == w.size() && all.compare(b, e - b, w) == 0) return index;
      b = e + 3;
    }
    return -1;
  }
  /// Whether `w` is one of the declared words (any text when there are none).
  bool allows(const std::string& w) const { return !*words || word_index(w) >= 0; }
};

/// The start of a declaration: key and one-line doc.
inline OptionSpec opt(const char* key, const char* doc) {
  OptionSpec s;
  s.key = key;
  s.doc = doc;
  return s;
}

/// The text of a failed check: "--key = value: expected ...".
inline std::string check_message(const OptionSpec& s, const std::string& value) {
  return "--" + dashed(s.key) + " = " + value + ": expected " + s.expected;
}

/// A value as the message of a failed check shows it (quoted text, whole numbers, floating
/// point in the spec's printf format).
template <class T>
std::string shown_value(const OptionSpec& s, const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    return "\"" + v + "\"";
  } else if constexpr (std::is_floating_point_v<T>) {
    char buf[64];
    std::snprintf(buf, sizeof buf, s.shown, static_cast<double>(v));
    return buf;
  } else {
    return std::to_string(v);
  }
}

/// Applies the declared check of one option (word set, range, non-empty); throws Error with
/// check_message() when the value fails it. Options checked by CLI11 and cross-option rules
/// are not checked here.
template <class Error, class T>
void check_option(const OptionSpec& s, const T& v) {
  if (s.cli_checked) return;
  if constexpr (std::is_same_v<T, std::string>) {
    if ((s.nonempty && v.empty()) || !s.allows(v)) throw Error(check_message(s, shown_value(s, v)));
  } else if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
    if (s.ranged && !s.in_range(static_cast<double>(v))) throw Error(check_message(s, shown_value(s, v)));
  }
}

/// A visitor running check_option<Error> on every visited option.
template <class Error>
struct Checker {
  template <class T>
  void operator()(const OptionSpec& s, const T& v) const {
    check_option<Error>(s, v);
  }
};

}  // namespace bnl::optspec
