#pragma once
/// \file
/// Whether the runs given to `compare` measured the same thing: one kind of file (record/run_kind.h)
/// and the same configuration apart from the grouping key, the seed and the keys of
/// kMeasurementKeys. What differs is described per group ("these runs differ in: epochs 1 vs 2").

#include <iosfwd>
#include <string>
#include <utility>
#include <vector>

namespace bnl::cli {

/// Configuration keys that say how a run was measured or stored, not what it measured; compare
/// ignores them when it decides whether runs are alike (besides the seed and the --group-by key).
extern const std::vector<std::string> kMeasurementKeys;

/// One run as the check sees it: its file, group, kind ("train", "online probe", ...) and its
/// config_toml entries (key with underscores, value in command-line form).
struct RunIdentity {
  std::string path;
  std::string group;
  std::string kind;
  std::vector<std::pair<std::string, std::string>> config;
};

/// The differences among `runs`, one line per group that holds unlike runs ("group none: kinds:
/// train vs online probe; these runs differ in: epochs 1 vs 2") and one for the groups among
/// themselves ("between groups: ..."); empty when the runs are alike. `group_by` (dashes or
/// underscores) is left out of the comparison.
std::vector<std::string> unlike_runs(const std::vector<RunIdentity>& runs, const std::string& group_by);

/// Every configuration key of `runs`, sorted, for the message of an unknown --group-by.
std::vector<std::string> config_keys(const std::vector<RunIdentity>& runs);

/// Opens a run file and reads what the check needs; a file without format = "bnlandscape" or
/// without config_toml is a ConfigError naming it.
RunIdentity identify_run(const std::string& path, const std::string& group_by);

/// The check `compare` makes before it pools anything: --group-by must name a key of some run's
/// configuration (else a ConfigError listing the keys) and the runs must be alike (else a
/// ConfigError naming what differs per group, unless `allow_mixed`, when that is written to
/// `note` instead).
void check_comparable(const std::vector<std::string>& files, const std::string& group_by, bool allow_mixed,
                      std::ostream& note);

}  // namespace bnl::cli
