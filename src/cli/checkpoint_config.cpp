#include "bnlandscape/cli/checkpoint_config.h"

#include <iostream>
#include <utility>

#include <CLI/App.hpp>

#include "bnlandscape/cli/app.h"
#include "bnlandscape/cli/config_file.h"
#include "bnlandscape/core/error.h"
#include "bnlandscape/io/checkpoint.h"
#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/probes/probe_config.h"
#include "bnlandscape/record/checkpoint_source.h"

namespace bnl::cli {

void adopt_checkpoint_config(train::TrainConfig& cfg, const std::string& checkpoint,
                             const std::vector<std::string>& keys, const CLI::App* app) {
  const auto toml = record::stored_config(checkpoint);
  if (!toml) return;
  std::vector<std::pair<std::string, std::string>> stored;
  for (const auto& e : parse_config_text(*toml, checkpoint + ":config_toml")) stored.emplace_back(e.key, e.value);
  record::adopt_config(cfg, stored, keys,
                       [app](const std::string& key) { return app && app->count("--" + dashed(key)) > 0; });
}

namespace {

/// "/checkpoints/step_0000100 (step 100), ..." (the first and last few of a long list).
std::string listing(const std::vector<std::string>& groups) {
  constexpr std::size_t kShown = 4;
  std::string out;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    if (groups.size() > 2 * kShown && i == kShown) {
      out += ", ... (" + std::to_string(groups.size() - 2 * kShown) + " more)";
      i = groups.size() - kShown;
    }
    out += (out.empty() ? "" : ", ") + groups[i] + " (step " + std::to_string(record::checkpoint_step(groups[i])) + ")";
  }
  return out;
}

/// What a file without checkpoint groups has instead: its top-level groups.
std::string top_level(const io::RunReader& r) {
  std::string out;
  for (const auto& name : r.list("/"))
    if (!r.is_dataset("/" + name)) out += (out.empty() ? "" : ", ") + ("/" + name);
  return out.empty() ? "no groups" : "the groups " + out;
}

}  // namespace

std::string resolve_checkpoint_group(const std::string& file, const std::string& group, const std::string& command,
                                     bool quiet) {
  const auto checkpoints = io::list_checkpoints(file);
  if (group.empty()) {
    if (checkpoints.empty())
      throw ConfigError("--checkpoint " + file + ": expected checkpoints (/checkpoints/step_N) to take the last of, "
                        "found none; name the group of the weights with --checkpoint-group (a run writes checkpoints "
                        "with --checkpoint-every N)");
    if (!quiet)
      std::cerr << "bnlandscape " << command << ": using the last checkpoint of " << file << ", " << checkpoints.back()
                << " (step " << record::checkpoint_step(checkpoints.back()) << "); --checkpoint-group names another\n";
    return checkpoints.back();
  }
  const io::RunReader r(file);
  if (r.exists(group) && !r.is_dataset(group)) return group;
  // `info` and the messages name checkpoints by their group under /checkpoints, so the bare
  // name (step_0000469) is what a reader types.
  const std::string under = "/checkpoints/" + group;
  if (group.find('/') == std::string::npos && r.exists(under) && !r.is_dataset(under)) return under;
  throw ConfigError("--checkpoint-group " + group + ": no such group in " + file + "; it has " +
                    (checkpoints.empty() ? "no checkpoints (" + top_level(r) + ")" : listing(checkpoints)));
}

void default_offline_probe_batch(probes::ProbeConfig& probe, const CLI::App* app) {
  if (!probe.checkpoint.empty() && (!app || app->count("--probe-batch") == 0)) probe.probe_batch = "fixed";
}

}  // namespace bnl::cli
