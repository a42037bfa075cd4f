#include "bnlandscape/record/run_kind.h"

#include "bnlandscape/io/run_reader.h"
#include "bnlandscape/record/schema_names.h"

namespace bnl::record {

RunKind run_kind(const io::RunReader& r) {
  using namespace names;
  if (r.exists(kSurface)) return RunKind::kSurface;
  if (!r.exists(kProbes)) return RunKind::kTrain;
  return r.string_attr(kCheckpointFile) ? RunKind::kOfflineProbe : RunKind::kOnlineProbe;
}

std::string run_kind_name(RunKind k) {
  switch (k) {
    case RunKind::kTrain: return "train";
    case RunKind::kOnlineProbe: return "online probe";
    case RunKind::kOfflineProbe: return "offline probe";
    case RunKind::kSurface: return "surface";
  }
  return "?";
}

}  // namespace bnl::record
