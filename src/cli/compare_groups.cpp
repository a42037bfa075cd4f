#include "bnlandscape/cli/compare_groups.h"

#include <algorithm>
#include <map>
#include <ostream>
#include <set>

#include "bnlandscape/cli/config_file.h"
#include "bnlandscape/core/error.h"
#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/record/run_kind.h"
#include "bnlandscape/record/schema_names.h"

namespace bnl::cli {

const std::vector<std::string> kMeasurementKeys{
    "out",        "overwrite",    "quiet",       "threads",    "seed",         "hvp_engine",
    "overlap",    "flush_every",  "data_dir",    "dist_timeout", "step_engine", "device",
    "checkpoint", "checkpoint_every", "checkpoint_minutes", "dump_config", "resume",
};

namespace {

std::string underscored(std::string k) {
  std::replace(k.begin(), k.end(), '-', '_');
  return k;
}

/// "a vs b vs c": the distinct values in the order the runs give them.
std::string versus(const std::vector<std::string>& values) {
  std::vector<std::string> seen;
  for (const auto& v : values)
    if (std::find(seen.begin(), seen.end(), v) == seen.end()) seen.push_back(v);
  if (seen.size() < 2) return "";
  std::string s;
  for (const auto& v : seen) s += (s.empty() ? "" : " vs ") + (v.empty() ? "\"\"" : v);
  return s;
}

/// The kinds and the settings that differ among `runs` ("" when they are alike).
std::string differences(const std::vector<const RunIdentity*>& runs, const std::string& group_key) {
  std::vector<std::string> kinds;
  std::set<std::string> keys;
  std::vector<std::map<std::string, std::string>> configs;
  for (const auto* r : runs) {
    kinds.push_back(r->kind);
    std::map<std::string, std::string> c;
    for (const auto& [k, v] : r->config) c[underscored(k)] = v;
    for (const auto& [k, v] : c) keys.insert(k);
    configs.push_back(std::move(c));
  }
  std::string out;
  if (auto k = versus(kinds); !k.empty()) out = "kinds: " + k;
  std::string settings;
  for (const auto& key : keys) {
    if (key == group_key || std::find(kMeasurementKeys.begin(), kMeasurementKeys.end(), key) != kMeasurementKeys.end())
      continue;
    std::vector<std::string> values;
    bool everywhere = true;
    for (const auto& c : configs) {
      auto it = c.find(key);
      everywhere = everywhere && it != c.end();
      values.push_back(it == c.end() ? "(unset)" : it->second);
    }
    // Another kind of file has other keys; naming the kinds says that already.
    if (!everywhere && !out.empty()) continue;
    if (auto v = versus(values); !v.empty()) settings += (settings.empty() ? "" : ", ") + key + " " + v;
  }
  if (!settings.empty()) out += (out.empty() ? "" : "; ") + std::string("these runs differ in: ") + settings;
  return out;
}

}  // namespace

std::vector<std::string> unlike_runs(const std::vector<RunIdentity>& runs, const std::string& group_by) {
  const std::string group_key = underscored(group_by);
  std::vector<std::string> groups;
  for (const auto& r : runs)
    if (std::find(groups.begin(), groups.end(), r.group) == groups.end()) groups.push_back(r.group);
  std::vector<std::string> out;
  for (const auto& g : groups) {
    std::vector<const RunIdentity*> members;
    for (const auto& r : runs)
      if (r.group == g) members.push_back(&r);
    if (auto d = differences(members, group_key); !d.empty()) out.push_back("group " + g + ": " + d);
  }
  // Groups alike inside may still differ from one another in more than the grouping key.
  if (out.empty() && groups.size() > 1) {
    std::vector<const RunIdentity*> all;
    for (const auto& r : runs) all.push_back(&r);
    if (auto d = differences(all, group_key); !d.empty()) out.push_back("between groups: " + d);
  }
  return out;
}

std::vector<std::string> config_keys(const std::vector<RunIdentity>& runs) {
  std::set<std::string> keys;
  for (const auto& r : runs)
    for (const auto& [k, v] : r.config) keys.insert(underscored(k));
  return {keys.begin(), keys.end()};
}

RunIdentity identify_run(const std::string& path, const std::string& group_by) {
  using namespace record::names;
  io::RunReader r(path);
  if (r.string_attr(kFormat).value_or("") != "bnlandscape")
    throw bnl::ConfigError(path + ": expected a bnlandscape run file (root attribute format = \"bnlandscape\"), got " +
                           (r.string_attr(kFormat) ? "format = \"" + *r.string_attr(kFormat) + "\"" : "none"));
  const auto toml = r.string_attr(kConfigToml);
  if (!toml)
    throw bnl::ConfigError(path + ": expected a bnlandscape run file with its configuration (root attribute " +
                           std::string(kConfigToml) + "), got none");
  RunIdentity id;
  id.path = path;
  id.group = "?";
  id.kind = record::run_kind_name(record::run_kind(r));
  for (const auto& e : parse_config_text(*toml, path + ":config_toml")) {
    if (underscored(e.key) == underscored(group_by)) id.group = e.value;
    id.config.emplace_back(underscored(e.key), e.value);
  }
  return id;
}

void check_comparable(const std::vector<std::string>& files, const std::string& group_by, bool allow_mixed,
                      std::ostream& note) {
  std::vector<RunIdentity> runs;
  for (const auto& f : files) runs.push_back(identify_run(f, group_by));
  const auto keys = config_keys(runs);
  if (std::find(keys.begin(), keys.end(), underscored(group_by)) == keys.end()) {
    std::string list;
    for (const auto& k : keys) list += (list.empty() ? "" : ", ") + k;
    throw bnl::ConfigError("--group-by " + group_by + ": expected a key of the runs' configuration: " + list);
  }
  const auto unlike = unlike_runs(runs, group_by);
  if (unlike.empty()) return;
  std::string text;
  for (const auto& u : unlike) text += "\n  " + u;
  if (!allow_mixed)
    throw bnl::ConfigError("compare: expected runs that measured the same thing (one kind of file, the same settings "
                           "apart from --group-by " + group_by + " and the seed; --allow-mixed compares them anyway):" +
                           text);
  note << "note: --allow-mixed: comparing unlike runs:" << text << "\n";
}

}  // namespace bnl::cli
