#pragma once
/// \file
/// The recording pieces `train`, `probe` and `surface` use, now in area record, under their
/// former cli names (record/run_recorder.h, record/resume_point.h, record/provenance.h,
/// record/observer_list.h).

#include "bnlandscape/record/observer_list.h"
#include "bnlandscape/record/provenance.h"
#include "bnlandscape/record/resume_point.h"
#include "bnlandscape/record/run_recorder.h"

namespace bnl::cli {

using record::iso8601_utc_now;
using record::ObserverList;
using record::read_resume_point;
using record::ResumeInfo;
using record::RunProvenance;
using record::RunRecorder;

}  // namespace bnl::cli
