#include "daemon/sweep_state.h"

#include "fmt/format.h"
#include "nlohmann/json.hpp"
#include "notices/json_fields.h"

namespace takedown {
namespace {

int64_t TimeToMicros(absl::Time t) { return t == absl::InfinitePast() ? 0 : absl::ToUnixMicros(t); }
absl::Time MicrosToTime(int64_t us) { return us == 0 ? absl::InfinitePast() : absl::FromUnixMicros(us); }

}  // namespace

std::string_view SweepPhaseName(SweepPhase phase) {
  switch (phase) {
    case SweepPhase::kIdle: return "idle";
    case SweepPhase::kRunning: return "running";
    case SweepPhase::kCompleted: return "completed";
    case SweepPhase::kFailed: return "failed";
    case SweepPhase::kPaused: return "paused";
  }
  return "unknown";
}

std::string EncodeSweepState(const SweepState& s) {
  const SweepCounters& c = s.counters;
  nlohmann::json j = {
      {"source_id", s.source_id},
      {"sweep_id", s.sweep_id},
      {"phase", std::string(SweepPhaseName(s.phase))},
      {"started_at_us", TimeToMicros(s.started_at)},
      {"finished_at_us", TimeToMicros(s.finished_at)},
      {"resumes", s.resumes},
      {"error", s.error},
      {"estimated_total", s.estimated_total},
      {"counters",
       {{"listed", c.listed},
        {"done", c.done},
        {"unchanged", c.unchanged},
        {"skipped", c.skipped},
        {"failed", c.failed},
        {"bytes", c.bytes},
        {"matches", c.matches},
        {"members", c.members},
        {"members_failed", c.members_failed}}},
  };
  if (s.has_cursor) PutJsonBytes(j, "cursor", s.cursor);
  return DumpJson(j);
}

absl::StatusOr<SweepState> DecodeSweepState(std::string_view encoded) {
  try {
    nlohmann::json j = nlohmann::json::parse(encoded);
    SweepState s;
    s.source_id = j.at("source_id").get<std::string>();
    s.sweep_id = j.at("sweep_id").get<std::string>();
    std::string phase = j.at("phase").get<std::string>();
    if (phase == "idle") s.phase = SweepPhase::kIdle;
    else if (phase == "running") s.phase = SweepPhase::kRunning;
    else if (phase == "completed") s.phase = SweepPhase::kCompleted;
    else if (phase == "failed") s.phase = SweepPhase::kFailed;
    else if (phase == "paused") s.phase = SweepPhase::kPaused;
    else return absl::DataLossError(fmt::format("sweep state of {}: unknown phase '{}'", s.source_id, phase));
    s.started_at = MicrosToTime(j.value("started_at_us", int64_t{0}));
    s.finished_at = MicrosToTime(j.value("finished_at_us", int64_t{0}));
    s.resumes = j.value("resumes", 0u);
    s.error = j.value("error", "");
    s.estimated_total = j.value("estimated_total", uint64_t{0});
    if (j.contains("cursor")) {
      absl::StatusOr<std::string> cursor = GetJsonBytes(j, "cursor", 1 << 20, "sweep state");
      if (!cursor.ok()) return absl::DataLossError(std::string(cursor.status().message()));
      s.cursor = *std::move(cursor);
      s.has_cursor = true;
    }
    const nlohmann::json& c = j.at("counters");
    s.counters.listed = c.value("listed", uint64_t{0});
    s.counters.done = c.value("done", uint64_t{0});
    s.counters.unchanged = c.value("unchanged", uint64_t{0});
    s.counters.skipped = c.value("skipped", uint64_t{0});
    s.counters.failed = c.value("failed", uint64_t{0});
    s.counters.bytes = c.value("bytes", uint64_t{0});
    s.counters.matches = c.value("matches", uint64_t{0});
    s.counters.members = c.value("members", uint64_t{0});
    s.counters.members_failed = c.value("members_failed", uint64_t{0});
    return s;
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(fmt::format("sweep state is not valid JSON: {}", e.what()));
  }
}

}  // namespace takedown
