#include "bnlandscape/cli/resume_request.h"

#include <cctype>
#include <map>
#include <optional>
#include <vector>

#include "bnlandscape/cli/config_file.h"
#include "bnlandscape/config/option.h"
#include "bnlandscape/core/error.h"
#include "bnlandscape/core/parse.h"
#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/record/run_kind.h"

namespace bnl::cli {
namespace {

/// Keys of a stored configuration that a continuation sets afresh: where it writes (the run
/// file itself), whether it may replace it, and whether it prints progress.
const char* const kFreeKeys[] = {"out", "overwrite", "quiet"};

std::map<std::string, std::string> entries(const std::string& toml, const std::string& source) {
  std::map<std::string, std::string> m;
  for (const auto& e : parse_config_text(toml, source)) {
    std::string key = e.key;
    for (auto& ch : key)
      if (ch == '-') ch = '_';
    m[key] = e.value;
  }
  return m;
}

/// Whether two values of one option are the same: numerically for numbers (a file written by
/// another version may spell 0.1 differently), textually otherwise.
bool same_value(const std::string& a, const std::string& b) {
  const auto x = core::parse_double(a), y = core::parse_double(b);
  if (x && y) return *x == *y;
  return a == b;
}

std::string shown(const std::string& v) { return v.empty() ? "\"\"" : v; }

}  // namespace

void check_resume_request(const std::string& command, const std::string& file, const std::string& given,
                          const std::string& out) {
  std::optional<std::string> status, stored;
  record::RunKind kind;
  {
    io::RunReader reader(file);  // closed before the run reopens the file
    status = reader.string_attr("status");
    stored = reader.string_attr("config_toml");
    kind = record::run_kind(reader);
  }
  const std::string what = "--resume " + file + ": ";
  if (!stored) throw ConfigError(what + "expected a bnlandscape run file, got no config_toml");
  const auto expected = command == "probe" ? record::RunKind::kOnlineProbe : record::RunKind::kTrain;
  if (kind != expected) {
    const std::string hint = kind == record::RunKind::kTrain         ? " (continue it with " + resume_command("train", file) + ")"
                             : kind == record::RunKind::kOnlineProbe ? " (continue it with " + resume_command("probe", file) + ")"
                                                                     : "";
    throw ConfigError(what + "expected " + (command == "probe" ? "an online probe" : "a train") + " run file, got " +
                      (kind == record::RunKind::kTrain ? "a " : "an ") + record::run_kind_name(kind) + " run file" + hint);
  }
  if (out != file) throw ConfigError(what + "cannot change --out (the run continues in " + file + ", " + out + " given)");
  const auto old_cfg = entries(*stored, file + ":config_toml");
  const auto new_cfg = entries(given, "the resolved options");
  std::vector<std::string> changes;
  bool grows = false;
  for (const auto& [key, old_value] : old_cfg) {
    bool free = false;
    for (const char* k : kFreeKeys) free = free || key == k;
    const auto it = new_cfg.find(key);
    if (free || it == new_cfg.end()) continue;  // a key this version no longer has was refused on reading
    if (key == "epochs") {
      const auto o = core::parse_int(old_value), n = core::parse_int(it->second);
      if (o && n && *n > *o) {
        grows = true;
        continue;
      }
    }
    if (!same_value(old_value, it->second))
      changes.push_back("--" + optspec::dashed(key) + " (" + shown(old_value) + " in the run file, " + shown(it->second) + " given)");
  }
  if (!changes.empty()) {
    std::string list;
    for (const auto& c : changes) list += (list.empty() ? "" : ", ") + c;
    throw ConfigError(what + "cannot change " + list + "; only --epochs may grow");
  }
  if (status && *status == "diverged") throw ConfigError(what + "the run diverged; nothing to continue");
  if (status && *status == "complete" && !grows) {
    const auto e = old_cfg.find("epochs");
    throw ConfigError(what + "the run is already complete; nothing to continue (--epochs N above " +
                      (e == old_cfg.end() ? std::string("its epochs") : e->second) + " trains it further)");
  }
}

std::string resume_command(const std::string& command, const std::string& path) {
  bool plain = !path.empty();
  for (char c : path)
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || std::string("_./+-=,:@%").find(c) != std::string::npos);
  std::string quoted = path;
  if (!plain) {
    quoted = "'";
    for (char c : path) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
    quoted += "'";
  }
  return "bnlandscape " + command + " --resume " + quoted;
}

}  // namespace bnl::cli
